package app_test

// Streams that die after content continue on the next target, into the
// same client stream (routes with continue_streams).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"
)

// cutAfter streams words, then drops the connection.
func cutAfter(words ...string) behaviour {
	return func(u *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
		sseHeader(w)
		writeEvent(w, chunkJSON(u.model, map[string]any{"role": "assistant", "content": ""}, nil))
		for _, word := range words {
			writeEvent(w, chunkJSON(u.model, map[string]any{"content": word}, nil))
		}
		panic(http.ErrAbortHandler)
	}
}

// streamWithID streams words under its own chunk id, as a different
// provider would.
func streamWithID(id string, words ...string) behaviour {
	return func(u *upstream, w http.ResponseWriter, _ *http.Request, req seenRequest, _ int64) {
		sseHeader(w)
		chunk := func(delta map[string]any, finish any) {
			b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": 1764158400, "model": u.model,
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}})
			writeEvent(w, string(b))
		}
		chunk(map[string]any{"role": "assistant", "content": ""}, nil)
		for _, word := range words {
			chunk(map[string]any{"content": word}, nil)
		}
		chunk(map[string]any{}, "stop")
		if req.IncludeUsage {
			b, _ := json.Marshal(map[string]any{"id": id, "object": "chat.completion.chunk", "created": 1764158400, "model": u.model,
				"choices": []any{}, "usage": map[string]int{"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24}})
			writeEvent(w, string(b))
		}
		writeEvent(w, "[DONE]")
	}
}

func continueRoute(continueStreams bool, extraTargets string) string {
	return fmt.Sprintf(`  - model: chat
    continue_streams: %t
    targets:
      - {provider: primary, model: primary-model}
      - {provider: backup, model: backup-model}%s`, continueStreams, extraTargets)
}

// TestContinueStream: the primary dies after three words; the backup is
// given them and an instruction, and the OpenAI client's stream carries on
// to one whole answer, with the chunks' id kept and the continuation told.
func TestContinueStream(t *testing.T) {
	primary := newUpstream(t, "primary", cutAfter("The", " quick", " brown"))
	backup := newUpstream(t, "backup", streamWithID("chatcmpl-other", " fox", " jumps."))
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Routes: continueRoute(true, ""), Retries: "{attempts: 1}"}.yaml())
	c := r.client(t)
	var resp *http.Response
	s := c.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("A pangram, please.")},
	}, option.WithResponseInto(&resp))
	var acc openai.ChatCompletionAccumulator
	var note string
	for s.Next() {
		ch := s.Current()
		if !acc.AddChunk(ch) {
			t.Errorf("the accumulator refused chunk %s", ch.RawJSON())
		}
		if v := gjson.Get(ch.RawJSON(), "relais_continuation"); v.Exists() {
			note = v.Raw
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got := acc.Choices[0].Message.Content; got != "The quick brown fox jumps." {
		t.Errorf("content %q", got)
	}
	if acc.Choices[0].FinishReason != "stop" {
		t.Errorf("finish reason %q", acc.Choices[0].FinishReason)
	}
	if !strings.Contains(note, `"provider":"primary"`) || !strings.Contains(note, `"provider":"backup"`) || !strings.Contains(note, `"reason":"truncated"`) {
		t.Errorf("continuation event %s", note)
	}
	// Trailers come after the body's end, which the SDK does not read: a
	// plain client reads the whole stream.
	raw, body := r.do(t, http.MethodPost, "/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"again"}]}`,
		"Content-Type", "application/json")
	if got := raw.Trailer.Get("X-Relais-Continued-By"); got != "backup/backup-model" || raw.Trailer.Get("X-Relais-Continued-From") != "primary/primary-model" {
		t.Errorf("trailers %v", raw.Trailer)
	}
	if !strings.Contains(string(body), "fox") || !strings.HasSuffix(string(body), "data: [DONE]\n\n") {
		t.Errorf("raw stream %s", body)
	}
	msgs := gjson.GetBytes(backup.last().Body, "messages").Array()
	if n := len(msgs); n != 3 || msgs[1].Get("role").Str != "assistant" || msgs[1].Get("content").Str != "The quick brown" || msgs[2].Get("role").Str != "user" {
		t.Errorf("backup was asked %s", gjson.GetBytes(backup.last().Body, "messages").Raw)
	}
	if got := r.metric(t, "relais_stream_continuations_total", `result="ok"`); got != 2 {
		t.Errorf("continuations ok = %v", got)
	}
}

// TestContinueIntoAnthropicClient: an Anthropic client's stream, cut on an
// OpenAI target, continues on an Anthropic one given the text as a prefill;
// the client sees one message with one text block.
func TestContinueIntoAnthropicClient(t *testing.T) {
	primary := newUpstream(t, "primary", cutAfter("Once", " upon", " a time "))
	r := startRelais(t, fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
providers:
  - {name: primary, type: openai, base_url: %q}
  - {name: claude, type: sim, dialect: anthropic, latency: 1ms, ttft: 1ms, seed: 3}
routes:
  - model: chat
    continue_streams: true
    targets: [{provider: primary, model: primary-model}, {provider: claude, model: claude-sim}]
retries: {attempts: 1}
`, primary.url()))
	c := r.anthropicClient(t)
	s := c.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{
		Model: "chat", MaxTokens: 64, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("A story."))},
	})
	var acc anthropic.Message
	for s.Next() {
		if err := acc.Accumulate(s.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Content) != 1 || !strings.HasPrefix(acc.Content[0].Text, "Once upon a time ") || len(acc.Content[0].Text) <= len("Once upon a time ") {
		t.Fatalf("message: %+v", acc.Content)
	}
	if acc.StopReason == "" {
		t.Errorf("no stop reason: %+v", acc)
	}
}

// TestContinueRefused: when the continuation target refuses (a 400), the
// client's stream ends with the original failure, never that 400; a route
// without continue_streams ends at the cut, and tool-call streams are never
// continued.
func TestContinueRefused(t *testing.T) {
	primary := newUpstream(t, "primary", cutAfter("Half", " an"))
	backup := newUpstream(t, "backup", fail(http.StatusBadRequest, `{"error":{"message":"prefill not supported","type":"invalid_request_error","code":"bad_prefill"}}`))
	for _, cont := range []bool{true, false} {
		t.Run(fmt.Sprint("continue_streams=", cont), func(t *testing.T) {
			r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Routes: continueRoute(cont, ""), Retries: "{attempts: 1}"}.yaml())
			before := backup.requests()
			got := chat(t, r.client(t), true, chatParams("chat"))
			if got.err == nil || !strings.Contains(got.err.Error(), "stream_interrupted") || strings.Contains(got.err.Error(), "bad_prefill") {
				t.Errorf("error %v", got.err)
			}
			if got.content != "Half an" {
				t.Errorf("content %q", got.content)
			}
			wantCalls := 0
			if cont {
				wantCalls = 1
			}
			if n := backup.requests() - before; n != wantCalls {
				t.Errorf("backup asked %d times, want %d", n, wantCalls)
			}
		})
	}
}

// TestToolStreamNotContinued: a stream that carried a tool call is never
// continued: the client learns it was cut.
func TestToolStreamNotContinued(t *testing.T) {
	primary := newUpstream(t, "primary", func(u *upstream, w http.ResponseWriter, _ *http.Request, _ seenRequest, _ int64) {
		sseHeader(w)
		writeEvent(w, chunkJSON(u.model, map[string]any{"role": "assistant", "content": "Let me check."}, nil))
		writeEvent(w, chunkJSON(u.model, map[string]any{"tool_calls": []any{map[string]any{"index": 0, "id": "call_1", "type": "function",
			"function": map[string]any{"name": "get_weather", "arguments": `{"ci`}}}}, nil))
		panic(http.ErrAbortHandler)
	})
	backup := newUpstream(t, "backup", answer)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Routes: continueRoute(true, ""), Retries: "{attempts: 1}"}.yaml())
	got := chat(t, r.client(t), true, chatParams("chat"))
	if got.err == nil || !strings.Contains(got.err.Error(), "stream_interrupted") || backup.requests() != 0 {
		t.Errorf("error %v, backup asked %d times", got.err, backup.requests())
	}
}
