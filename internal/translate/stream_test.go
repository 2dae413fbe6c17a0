package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
)

// runStream feeds evs to s and renders, for a golden file, each input event,
// what Convert said of it and wrote, then Finish's bytes and the totals. It
// checks every write is whole, valid frames.
func runStream(t *testing.T, s Stream, evs []Event, anthropicOut bool) (render, wire []byte) {
	return runStreamChecked(t, s, evs, func(out []byte) { checkFrames(t, out, anthropicOut) })
}

// passthrough checks only the framing of a Passthrough's output.
func passthrough(t *testing.T) func([]byte) {
	return func(out []byte) {
		if len(out) > 0 && !bytes.HasSuffix(out, []byte("\n\n")) {
			t.Fatalf("output does not end a frame: %q", out)
		}
	}
}

func runStreamChecked(t *testing.T, s Stream, evs []Event, check func([]byte)) (render, wire []byte) {
	t.Helper()
	var b bytes.Buffer
	for _, ev := range evs {
		fmt.Fprintf(&b, "--> %s %s\n", ev.Name, ev.Data)
		out, info := s.Convert(nil, ev)
		check(out)
		fmt.Fprintf(&b, "<-- %+v\n%s", info, out)
		wire = append(wire, out...)
	}
	out := s.Finish(nil)
	check(out)
	wire = append(wire, out...)
	fmt.Fprintf(&b, "--> Finish\n%s", out)
	if again := s.Finish(nil); len(again) != 0 {
		t.Errorf("a second Finish wrote %q", again)
	}
	fmt.Fprintf(&b, "== usage %+v tool calls %v text %q\n", s.Usage(), s.ToolCalls(), s.Text())
	return b.Bytes(), wire
}

func TestMessagesToChatStreamGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "messages_stream", ".sse") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := MessagesToChatStream("chatcmpl-relais1", "claude-sonnet-4-5", created, true, true)
			render, wire := runStream(t, s, parseSSE(read(t, path)), false)
			golden(t, "messages_stream/"+name, render)
			accumulateOpenAI(t, wire) // the official client reads it
		})
	}
}

func TestChatToMessagesStreamGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "chat_stream", ".sse") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := ChatToMessagesStream("msg_relais1", "gpt-4o", true)
			render, wire := runStream(t, s, parseSSE(read(t, path)), true)
			golden(t, "chat_stream/"+name, render)
			if !bytes.Contains(wire, []byte("event: error")) {
				accumulateAnthropic(t, wire)
			}
		})
	}
}

func TestPassthroughGolden(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"messages_stream", "chat_stream"} {
		anthropic := dir == "messages_stream"
		for _, path := range inputs(t, dir, ".sse") {
			name := caseName(path)
			t.Run(dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				// Passthrough re-emits what came, JSON or not.
				render, _ := runStreamChecked(t, Passthrough(anthropic, true), parseSSE(read(t, path)), passthrough(t))
				golden(t, "passthrough/"+dir+"_"+name, render)
			})
		}
	}
}

// Both converters classify the same stream alike: the Info of each event
// and the totals match those of Passthrough on the upstream's dialect.
func TestConvertersClassifyLikePassthrough(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"messages_stream", "chat_stream"} {
		anthropic := dir == "messages_stream"
		for _, path := range inputs(t, dir, ".sse") {
			evs := parseSSE(read(t, path))
			conv := ChatToMessagesStream("id", "m", true)
			if anthropic {
				conv = MessagesToChatStream("id", "m", 1, true, true)
			}
			pass := Passthrough(anthropic, true)
			for _, ev := range evs {
				_, ci := conv.Convert(nil, ev)
				_, pi := pass.Convert(nil, ev)
				if ci != pi {
					t.Errorf("%s: %s %s: converter says %+v, passthrough %+v", path, ev.Name, ev.Data, ci, pi)
				}
			}
			if conv.Usage() != pass.Usage() || conv.Text() != pass.Text() || conv.ToolCalls() != pass.ToolCalls() {
				t.Errorf("%s: totals differ: %+v %q %v vs %+v %q %v", path, conv.Usage(), conv.Text(), conv.ToolCalls(),
					pass.Usage(), pass.Text(), pass.ToolCalls())
			}
		}
	}
}

func TestMessagesToChatStreamWithoutUsage(t *testing.T) {
	t.Parallel()
	s := MessagesToChatStream("id", "m", 1, false, false)
	var wire []byte
	for _, ev := range parseSSE(read(t, "testdata/messages_stream/usage.sse")) {
		wire, _ = s.Convert(wire, ev)
	}
	if bytes.Contains(wire, []byte(`"usage"`)) {
		t.Errorf("usage sent without include_usage:\n%s", wire)
	}
	if got := s.Usage(); got != (Usage{Input: 2129, Output: 5, CachedInput: 2000}) {
		t.Errorf("Usage() = %+v", got)
	}
	if s.Text() != "" {
		t.Errorf("Text() = %q without keepText", s.Text())
	}
}

// Convert appends: what dst held stays in front.
func TestConvertAppends(t *testing.T) {
	t.Parallel()
	ev := Event{Name: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}`)}
	out, _ := MessagesToChatStream("id", "m", 1, false, false).Convert([]byte("prefix"), ev)
	if !bytes.HasPrefix(out, []byte("prefix")) || len(out) <= len("prefix") {
		t.Errorf("Convert = %q", out)
	}
	out, _ = ChatToMessagesStream("id", "m", false).Convert([]byte("prefix"), Event{Data: []byte(`{"choices":[{"index":0,"delta":{"content":"hi"}}]}`)})
	if !bytes.HasPrefix(out, []byte("prefix")) || len(out) <= len("prefix") {
		t.Errorf("Convert = %q", out)
	}
}

// A stream translated to the other dialect and back keeps its text, tool
// calls, stop reason and usage.
func TestStreamRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"text", "tool_use", "usage", "refusal"} {
		t.Run("anthropic/"+name, func(t *testing.T) {
			t.Parallel()
			orig := read(t, "testdata/messages_stream/"+name+".sse")
			_, oa := runStream(t, MessagesToChatStream("id", "m", 1, true, false), parseSSE(orig), false)
			_, back := runStream(t, ChatToMessagesStream("msg_1", "claude", false), parseSSE(oa), true)
			want, got := accumulateAnthropic(t, orig), accumulateAnthropic(t, back)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the message:\ngot  %+v\nwant %+v", got, want)
			}
		})
	}
	for _, name := range []string{"text", "tool_calls", "length", "content_filter"} {
		t.Run("openai/"+name, func(t *testing.T) {
			t.Parallel()
			orig := read(t, "testdata/chat_stream/"+name+".sse")
			_, an := runStream(t, ChatToMessagesStream("msg_1", "claude", false), parseSSE(orig), true)
			_, back := runStream(t, MessagesToChatStream("chatcmpl-1", "gpt-4o", 1, true, false), parseSSE(an), false)
			want, got := accumulateOpenAI(t, orig), accumulateOpenAI(t, back)
			w, g := want.Choices[0], got.Choices[0]
			if g.Message.Content != w.Message.Content || g.FinishReason != w.FinishReason ||
				!reflect.DeepEqual(toolCalls(g.Message.ToolCalls), toolCalls(w.Message.ToolCalls)) ||
				got.Usage.PromptTokens != want.Usage.PromptTokens || got.Usage.CompletionTokens != want.Usage.CompletionTokens ||
				got.Usage.PromptTokensDetails.CachedTokens != want.Usage.PromptTokensDetails.CachedTokens {
				t.Errorf("round trip changed the completion:\ngot  %+v %+v\nwant %+v %+v", g, got.Usage, w, want.Usage)
			}
		})
	}
}

func toolCalls(calls []openai.ChatCompletionMessageToolCallUnion) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.ID+" "+c.Function.Name+" "+c.Function.Arguments)
	}
	return out
}

// accumulateOpenAI reads an OpenAI SSE body with openai-go's types and
// accumulator, as a client would.
func accumulateOpenAI(t *testing.T, wire []byte) openai.ChatCompletion {
	t.Helper()
	var acc openai.ChatCompletionAccumulator
	done := false
	for _, ev := range parseSSE(wire) {
		if done {
			t.Fatalf("data after [DONE]: %s", ev.Data)
		}
		if string(ev.Data) == "[DONE]" {
			done = true
			continue
		}
		if bytes.HasPrefix(ev.Data, []byte(`{"error"`)) {
			continue
		}
		var chunk openai.ChatCompletionChunk
		if err := json.Unmarshal(ev.Data, &chunk); err != nil {
			t.Fatalf("openai-go cannot decode %s: %v", ev.Data, err)
		}
		if !acc.AddChunk(chunk) {
			t.Fatalf("the accumulator rejected %s", ev.Data)
		}
	}
	return acc.ChatCompletion
}

// anthropicMessage is what an Anthropic client builds from a stream.
type anthropicMessage struct {
	Blocks     []string // "text:…" or "tool_use:id name input"
	StopReason string
	Usage      Usage
}

// accumulateAnthropic checks that wire follows the Messages stream grammar
// (message_start, then blocks started, filled and stopped in order,
// message_delta, message_stop) and returns the message it builds.
func accumulateAnthropic(t *testing.T, wire []byte) anthropicMessage {
	t.Helper()
	var m anthropicMessage
	var counts anthropicCounts
	type block struct {
		typ, id, name string
		text          strings.Builder
		open          bool
	}
	var blocks []*block
	state := "start"
	for _, ev := range parseSSE(wire) {
		var e struct {
			Type         string
			Index        int
			ContentBlock struct{ Type, ID, Name, Text string } `json:"content_block"`
			Delta        struct {
				Type, Text  string
				PartialJSON string `json:"partial_json"`
				StopReason  string `json:"stop_reason"`
			}
		}
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			t.Fatalf("invalid event %s: %v", ev.Data, err)
		}
		bad := func() { t.Fatalf("%s in state %s: %s", e.Type, state, ev.Data) }
		switch e.Type {
		case "ping":
		case "message_start":
			if state != "start" {
				bad()
			}
			state = "blocks"
			a := readAnthropic(string(ev.Data))
			counts.start(&a)
		case "content_block_start":
			if state != "blocks" || e.Index != len(blocks) || (len(blocks) > 0 && blocks[len(blocks)-1].open) {
				bad()
			}
			b := &block{typ: e.ContentBlock.Type, id: e.ContentBlock.ID, name: e.ContentBlock.Name, open: true}
			b.text.WriteString(e.ContentBlock.Text)
			blocks = append(blocks, b)
		case "content_block_delta":
			if state != "blocks" || e.Index >= len(blocks) || !blocks[e.Index].open {
				bad()
			}
			switch e.Delta.Type {
			case "text_delta":
				blocks[e.Index].text.WriteString(e.Delta.Text)
			case "input_json_delta":
				blocks[e.Index].text.WriteString(e.Delta.PartialJSON)
			}
		case "content_block_stop":
			if state != "blocks" || e.Index >= len(blocks) || !blocks[e.Index].open {
				bad()
			}
			blocks[e.Index].open = false
		case "message_delta":
			if state != "blocks" || (len(blocks) > 0 && blocks[len(blocks)-1].open) {
				bad()
			}
			state = "delta"
			m.StopReason = e.Delta.StopReason
			a := readAnthropic(string(ev.Data))
			counts.delta(&a)
		case "message_stop":
			if state != "delta" {
				bad()
			}
			state = "stopped"
		default:
			t.Fatalf("unexpected event %s", ev.Data)
		}
	}
	if state != "stopped" {
		t.Fatalf("the stream ended in state %s", state)
	}
	for _, b := range blocks {
		switch b.typ {
		case "text":
			m.Blocks = append(m.Blocks, "text:"+b.text.String())
		case "tool_use":
			input := b.text.String()
			if input == "" {
				input = "{}"
			}
			// A cut stream leaves the input unfinished: kept as it came.
			var v any
			if err := json.Unmarshal([]byte(input), &v); err == nil {
				canon, _ := json.Marshal(v)
				input = string(canon)
			}
			m.Blocks = append(m.Blocks, "tool_use:"+b.id+" "+b.name+" "+input)
		}
	}
	m.Usage = counts.usage()
	return m
}
