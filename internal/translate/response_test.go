package translate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/tidwall/gjson"
)

const created = 1741569952

func TestMessagesResponseToChatGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "messages_response", ".json") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, u, err := MessagesResponseToChat(read(t, path), "claude-sonnet-4-5", created)
			if strings.HasPrefix(name, "error_") == (err == nil) {
				t.Errorf("error = %v, want one only for error_ samples", err)
			}
			got := resultText(t, out, err)
			if err == nil {
				// The official client must read it as a chat completion.
				var c openai.ChatCompletion
				if err := json.Unmarshal(out, &c); err != nil {
					t.Fatalf("openai-go cannot decode the answer: %v", err)
				}
				if int(c.Usage.PromptTokens) != u.Input || int(c.Usage.CompletionTokens) != u.Output ||
					int(c.Usage.PromptTokensDetails.CachedTokens) != u.CachedInput {
					t.Errorf("usage %+v does not match the body's %+v", u, c.Usage)
				}
				got = fmt.Appendf(got, "usage: %+v\n", u)
			}
			golden(t, "messages_response/"+name, got)
		})
	}
}

func TestChatResponseToMessagesGolden(t *testing.T) {
	t.Parallel()
	for _, path := range inputs(t, "chat_response", ".json") {
		name := caseName(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, u, err := ChatResponseToMessages(read(t, path), "gpt-4o")
			if strings.HasPrefix(name, "error_") == (err == nil) {
				t.Errorf("error = %v, want one only for error_ samples", err)
			}
			got := resultText(t, out, err)
			if err == nil {
				got = fmt.Appendf(got, "usage: %+v\n", u)
			}
			golden(t, "chat_response/"+name, got)
		})
	}
}

// Each stop_reason maps to the finish_reason the brief and OpenAI clients
// expect, and back.
func TestStopReasons(t *testing.T) {
	t.Parallel()
	tests := []struct{ stop, finish, back string }{
		{"end_turn", "stop", "end_turn"},
		{"stop_sequence", "stop", "end_turn"},
		{"pause_turn", "stop", "end_turn"},
		{"max_tokens", "length", "max_tokens"},
		{"model_context_window_exceeded", "length", "max_tokens"},
		{"tool_use", "tool_calls", "tool_use"},
		{"refusal", "content_filter", "refusal"},
		{"", "stop", "end_turn"},
	}
	for _, tt := range tests {
		body := fmt.Sprintf(`{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"x"}],"stop_reason":%q,"usage":{"input_tokens":1,"output_tokens":1}}`, tt.stop)
		out, _, err := MessagesResponseToChat([]byte(body), "m", 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(out, "choices.0.finish_reason").String(); got != tt.finish {
			t.Errorf("stop_reason %q -> finish_reason %q, want %q", tt.stop, got, tt.finish)
		}
		back, _, err := ChatResponseToMessages(out, "m")
		if err != nil {
			t.Fatal(err)
		}
		if got := gjson.GetBytes(back, "stop_reason").String(); got != tt.back {
			t.Errorf("finish_reason %q -> stop_reason %q, want %q", tt.finish, got, tt.back)
		}
	}
}

// An Anthropic answer translated to OpenAI and back keeps its text, tool
// calls and usage.
func TestResponseRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"end_turn", "tool_use", "tool_use_only", "max_tokens", "refusal"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := read(t, "testdata/messages_response/"+name+".json")
			o, u1, err := MessagesResponseToChat(in, "m", 1)
			if err != nil {
				t.Fatal(err)
			}
			back, u2, err := ChatResponseToMessages(o, "claude-sonnet-4-5")
			if err != nil {
				t.Fatal(err)
			}
			if u1 != u2 {
				t.Errorf("usage %+v came back as %+v", u1, u2)
			}
			for _, k := range []string{"id", "stop_reason", "content"} {
				sameJSON(t, []byte(gjson.GetBytes(back, k).Raw), []byte(gjson.GetBytes(in, k).Raw))
			}
			// Cache writes have no OpenAI field: they come back as input.
			in0 := gjson.GetBytes(in, "usage")
			if got, want := gjson.GetBytes(back, "usage.input_tokens").Int(), in0.Get("input_tokens").Int()+in0.Get("cache_creation_input_tokens").Int(); got != want {
				t.Errorf("input_tokens = %d, want %d", got, want)
			}
		})
	}
}
