package translate

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestChatToMessagesGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "chat_request", ".json") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := ChatToMessages(read(t, path), "claude-sonnet-4-5", 2048)
			if strings.HasPrefix(name, "error_") == (err == nil) {
				t.Errorf("error = %v, want one only for error_ samples", err)
			}
			golden(t, "chat_request/"+name, resultText(t, out, err))
		})
	}
}

func TestMessagesToChatGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "messages_request", ".json") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := MessagesToChat(read(t, path), "gpt-4o")
			if strings.HasPrefix(name, "error_") == (err == nil) {
				t.Errorf("error = %v, want one only for error_ samples", err)
			}
			golden(t, "messages_request/"+name, resultText(t, out, err))
		})
	}
}

// Request errors are always the client's: an *Error with a 4xx status.
func TestRequestErrorsAreClientErrors(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `null`, `"x"`, `{}`, `{"messages":{}}`, `{"messages":[1]}`, `{"messages":[{"role":"user","content":5}]}`} {
		for name, f := range map[string]func([]byte) ([]byte, error){
			"ChatToMessages": func(b []byte) ([]byte, error) { return ChatToMessages(b, "m", 0) },
			"MessagesToChat": func(b []byte) ([]byte, error) { return MessagesToChat(b, "m") },
		} {
			_, err := f([]byte(body))
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Message == "" {
				t.Errorf("%s(%q) error = %#v, want a 400 *Error", name, body, err)
			}
		}
	}
}

func TestChatToMessagesMaxTokens(t *testing.T) {
	t.Parallel()
	const msgs = `"messages":[{"role":"user","content":"Hi"}]`
	tests := []struct {
		name       string
		body       string
		defaultMax int
		want       int64
	}{
		{"default", `{` + msgs + `}`, 2048, 2048},
		{"fallback when no default", `{` + msgs + `}`, 0, fallbackMaxTokens},
		{"max_tokens", `{` + msgs + `,"max_tokens":10}`, 2048, 10},
		{"max_completion_tokens wins", `{` + msgs + `,"max_tokens":10,"max_completion_tokens":20}`, 2048, 20},
		{"null is unset", `{` + msgs + `,"max_tokens":null}`, 2048, 2048},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := ChatToMessages([]byte(tt.body), "m", tt.defaultMax)
			if err != nil {
				t.Fatal(err)
			}
			if got := gjson.GetBytes(out, "max_tokens").Int(); got != tt.want {
				t.Errorf("max_tokens = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestChatToMessagesTemperature(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0": "0", "0.3": "0.3", "1": "1", "2": "1", "-1": "0"} {
		out, err := ChatToMessages([]byte(`{"messages":[{"role":"user","content":"x"}],"temperature":`+in+`}`), "m", 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(out, "temperature").Raw; got != want {
			t.Errorf("temperature %s -> %s, want %s", in, got, want)
		}
	}
}

// Translating a request there and back again gives back the first
// translation: nothing with a meaning on both sides is lost on the way.
func TestRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "chat_request", ".json") {
		name := caseName(path)
		if strings.HasPrefix(name, "error_") {
			continue
		}
		t.Run("openai/"+name, func(t *testing.T) {
			t.Parallel()
			a1, err := ChatToMessages(read(t, path), "claude", 1000)
			if err != nil {
				t.Fatal(err)
			}
			o, err := MessagesToChat(a1, "gpt")
			if err != nil {
				t.Fatal(err)
			}
			a2, err := ChatToMessages(o, "claude", 1000)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, a2, a1)
		})
	}
	for _, path := range inputs(t, "messages_request", ".json") {
		name := caseName(path)
		if strings.HasPrefix(name, "error_") {
			continue
		}
		t.Run("anthropic/"+name, func(t *testing.T) {
			t.Parallel()
			o1, err := MessagesToChat(read(t, path), "gpt")
			if err != nil {
				t.Fatal(err)
			}
			a, err := ChatToMessages(o1, "claude", 1000)
			if err != nil {
				t.Fatal(err)
			}
			o2, err := MessagesToChat(a, "gpt")
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, o2, o1)
		})
	}
}

// The meaning of a tool conversation survives OpenAI -> Anthropic -> OpenAI:
// roles, ids, the arguments as JSON, the results and their order.
func TestToolConversationRoundTrip(t *testing.T) {
	t.Parallel()
	in := read(t, "testdata/chat_request/tools.json")
	a, err := ChatToMessages(in, "claude", 1000)
	if err != nil {
		t.Fatal(err)
	}
	back, err := MessagesToChat(a, "gpt-4o")
	if err != nil {
		t.Fatal(err)
	}
	type msg struct{ Role, Text, ToolCallID, Calls string }
	summarize := func(body []byte) []msg {
		var out []msg
		for _, m := range gjson.GetBytes(body, "messages").Array() {
			s := msg{Role: m.Get("role").String(), ToolCallID: m.Get("tool_call_id").String()}
			c := m.Get("content")
			if c.IsArray() {
				for _, p := range c.Array() {
					s.Text += p.Get("text").String()
				}
			} else {
				s.Text = c.String()
			}
			for _, tc := range m.Get("tool_calls").Array() {
				var args any
				_ = json.Unmarshal([]byte(tc.Get("function.arguments").String()), &args)
				canon, _ := json.Marshal(args)
				s.Calls += tc.Get("id").String() + " " + tc.Get("function.name").String() + string(canon) + ";"
			}
			out = append(out, s)
		}
		return out
	}
	if got, want := summarize(back), summarize(in); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the conversation:\ngot  %+v\nwant %+v", got, want)
	}
	for _, k := range []string{"tools.0.function.parameters", "tools.1.function.name", "tool_choice", "parallel_tool_calls"} {
		got, want := gjson.GetBytes(back, k), gjson.GetBytes(in, k)
		if k == "tools.0.function.parameters" {
			sameJSON(t, []byte(got.Raw), []byte(want.Raw))
		} else if got.String() != want.String() {
			t.Errorf("%s = %s, want %s", k, got.Raw, want.Raw)
		}
	}
}

func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs:\ngot  %s\nwant %s", got, want)
	}
}
