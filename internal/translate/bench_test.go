package translate

import (
	"testing"
)

// BenchmarkMessagesToChatStream measures one Anthropic event converted for
// an OpenAI client, over a recorded-shaped tool call stream (text deltas,
// input_json_delta fragments, stop), a new stream per pass.
func BenchmarkMessagesToChatStream(b *testing.B) {
	evs := parseSSE(read(&testing.T{}, "testdata/messages_stream/tool_use.sse"))
	benchStream(b, evs, func() Stream { return MessagesToChatStream("chatcmpl-relais", "claude-sonnet-4-5", 1, true, true) })
}

// BenchmarkMessagesToChatStreamText is the common case: one text_delta.
func BenchmarkMessagesToChatStreamText(b *testing.B) {
	ev := Event{Name: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the quick brown fox"}}`)}
	s := MessagesToChatStream("chatcmpl-relais", "claude-sonnet-4-5", 1, true, false)
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		dst, _ = s.Convert(dst[:0], ev)
	}
}

// BenchmarkChatToMessagesStream measures one OpenAI chunk converted for an
// Anthropic client, over a tool call stream.
func BenchmarkChatToMessagesStream(b *testing.B) {
	evs := parseSSE(read(&testing.T{}, "testdata/chat_stream/tool_calls.sse"))
	benchStream(b, evs, func() Stream { return ChatToMessagesStream("msg_relais", "gpt-4o", true) })
}

// BenchmarkChatToMessagesStreamText is the common case: one content delta.
func BenchmarkChatToMessagesStreamText(b *testing.B) {
	ev := Event{Data: []byte(`{"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" the quick brown fox"},"logprobs":null,"finish_reason":null}]}`)}
	s := ChatToMessagesStream("msg_relais", "gpt-4o", false)
	dst := make([]byte, 0, 1024)
	dst, _ = s.Convert(dst, ev) // message_start and the block start
	b.ReportAllocs()
	b.SetBytes(int64(len(ev.Data)))
	for b.Loop() {
		dst, _ = s.Convert(dst[:0], ev)
	}
}

func benchStream(b *testing.B, evs []Event, newStream func() Stream) {
	dst := make([]byte, 0, 4096)
	s := newStream()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(evs) {
			s, i = newStream(), 0
		}
		dst, _ = s.Convert(dst[:0], evs[i])
		i++
	}
}

func BenchmarkChatToMessages(b *testing.B) {
	body := read(&testing.T{}, "testdata/chat_request/tools.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ChatToMessages(body, "claude", 1024); err != nil {
			b.Fatal(err)
		}
	}
}
