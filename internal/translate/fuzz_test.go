package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// addSeeds adds the sample files of testdata folders to a fuzz corpus.
func addSeeds(f *testing.F, pattern ...string) {
	f.Helper()
	for _, p := range pattern {
		files, _ := filepath.Glob(filepath.Join("testdata", p))
		for _, file := range files {
			f.Add(read(&testing.T{}, file))
		}
	}
}

// checkRequest holds for every request translation: an error is a 400
// *Error, a success is valid JSON.
func checkRequest(t *testing.T, out []byte, err error) {
	t.Helper()
	if err != nil {
		var e *Error
		if !errors.As(err, &e) || e.Status < 400 || e.Status > 499 || e.Message == "" {
			t.Fatalf("error %#v is not a client *Error", err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("output is not valid JSON: %s", out)
	}
}

func FuzzChatToMessages(f *testing.F) {
	addSeeds(f, "chat_request/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := ChatToMessages(body, "claude", 1024)
		checkRequest(t, out, err)
		if err == nil {
			back, err := MessagesToChat(out, "gpt")
			checkRequest(t, back, err)
		}
	})
}

func FuzzMessagesToChat(f *testing.F) {
	addSeeds(f, "messages_request/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := MessagesToChat(body, "gpt")
		checkRequest(t, out, err)
		if err == nil {
			back, err := ChatToMessages(out, "claude", 1024)
			checkRequest(t, back, err)
		}
	})
}

// FuzzResponses feeds any body to the answer and error translations.
func FuzzResponses(f *testing.F) {
	addSeeds(f, "messages_response/*.json", "chat_response/*.json")
	f.Fuzz(func(t *testing.T, body []byte) {
		if out, _, err := MessagesResponseToChat(body, "m", 1); err == nil && !json.Valid(out) {
			t.Fatalf("MessagesResponseToChat: invalid JSON %s", out)
		}
		if out, u, err := ChatResponseToMessages(body, "m"); err == nil && (!json.Valid(out) || u.CachedInput > u.Input) {
			t.Fatalf("ChatResponseToMessages: invalid JSON or usage %+v: %s", u, out)
		}
		for _, status := range []int{0, 200, 400, 429, 503, 529, 999} {
			if s, out := ErrorToOpenAI(status, body); !json.Valid(out) || s < 400 || s > 599 {
				t.Fatalf("ErrorToOpenAI(%d) = %d %s", status, s, out)
			}
			if s, out := ErrorToAnthropic(status, body); !json.Valid(out) || s < 400 || s > 599 {
				t.Fatalf("ErrorToAnthropic(%d) = %d %s", status, s, out)
			}
		}
	})
}

// FuzzStreams feeds any event sequence (the input read as an SSE body) to
// both converters and both passthroughs. Convert and Finish must return,
// and write whole frames of valid JSON in the client's dialect; a
// passthrough must re-emit each event so that it parses back the same.
func FuzzStreams(f *testing.F) {
	addSeeds(f, "messages_stream/*.sse", "chat_stream/*.sse")
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":5,\"function\":{\"arguments\":\"x\"}},{\"id\":\"a.b\"}]}}]}\n\n"))
	f.Add([]byte("event: x\rdata: a\rb\r\n\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		evs := parseSSE(body)
		// Data that came without an SSE parser: raw bytes, CR and all.
		evs = append(evs, Event{Name: "raw\r\n", Data: body})
		for _, tc := range []struct {
			s         Stream
			anthropic bool
		}{
			{MessagesToChatStream("id", "m", 1, true, true), false},
			{ChatToMessagesStream("id", "m", true), true},
		} {
			var wire []byte
			for _, ev := range evs {
				out, _ := tc.s.Convert(nil, ev)
				checkFrames(t, out, tc.anthropic)
				wire = append(wire, out...)
			}
			out := tc.s.Finish(nil)
			checkFrames(t, out, tc.anthropic)
			_ = tc.s.Usage()
			_ = tc.s.Text()
		}
		for _, anthropic := range []bool{true, false} {
			p := Passthrough(anthropic, true)
			for _, ev := range evs {
				out, info := p.Convert(nil, ev)
				if len(out) == 0 {
					continue // after the end
				}
				got := parseSSE(out)
				if len(got) != 1 {
					t.Fatalf("passthrough of %q wrote %d events: %q", ev.Data, len(got), out)
				}
				wantData := bytes.ReplaceAll(bytes.ReplaceAll(ev.Data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
				if !bytes.Equal(got[0].Data, wantData) {
					t.Fatalf("passthrough changed the data %q into %q", ev.Data, got[0].Data)
				}
				_ = info
			}
			p.Finish(nil)
		}
	})
}

// Deeply nested input is refused before gjson recurses into it: a depth
// past the stack's reach would be a fatal error, not a panic.
func TestDeepNesting(t *testing.T) {
	t.Parallel()
	deep := []byte(`{"messages":` + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20) + `}`)
	if _, err := ChatToMessages(deep, "m", 1); err == nil {
		t.Error("ChatToMessages accepted a body nested a million deep")
	}
	if _, err := MessagesToChat(deep, "m"); err == nil {
		t.Error("MessagesToChat accepted a body nested a million deep")
	}
	if _, _, err := MessagesResponseToChat(deep, "m", 1); err == nil {
		t.Error("MessagesResponseToChat accepted a body nested a million deep")
	}
	if status, out := ErrorToOpenAI(500, deep); status != 500 || !json.Valid(out) {
		t.Errorf("ErrorToOpenAI = %d %s", status, out)
	}
	for _, s := range []Stream{MessagesToChatStream("id", "m", 1, true, true), ChatToMessagesStream("id", "m", true)} {
		if out, info := s.Convert(nil, Event{Data: deep}); len(out) != 0 || info != (Info{}) {
			t.Errorf("a deep event was converted: %+v %.80q", info, out)
		}
	}
	// A depth that is allowed still translates.
	ok := []byte(`{"messages":[{"role":"assistant","content":"x","tool_calls":[{"id":"c","function":{"name":"f","arguments":` +
		strconv.Quote(`{"a":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`) + `}}]}]}`)
	if _, err := ChatToMessages(ok, "m", 1); err != nil {
		t.Errorf("a 5000 deep argument was refused: %v", err)
	}
}
