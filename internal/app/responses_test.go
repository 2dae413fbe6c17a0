package app_test

// POST /v1/responses: forwarded untranslated, with failover.

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// respond answers the Responses API: a response object, or its stream.
func respond(u *upstream, w http.ResponseWriter, r *http.Request, req seenRequest, _ int64) {
	if r.URL.Path != "/v1/responses" {
		answer(u, w, r, req, 0)
		return
	}
	text := "Hello from " + u.name + "."
	resp := fmt.Sprintf(`{"id":"resp_1","object":"response","created_at":1764158400,"status":"completed","model":%q,`+
		`"output":[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":%q,"annotations":[]}]}],`+
		`"usage":{"input_tokens":7,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":12}}`, u.model, text)
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, resp)
		return
	}
	sseHeader(w)
	ev := func(name, data string) {
		_, _ = io.WriteString(w, "event: "+name+"\ndata: "+data+"\n\n")
		flush(w)
	}
	ev("response.created", `{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"in_progress","output":[]}}`)
	for i, word := range strings.SplitAfter(text, " ") {
		ev("response.output_text.delta", fmt.Sprintf(`{"type":"response.output_text.delta","sequence_number":%d,"item_id":"msg_1","output_index":0,"content_index":0,"delta":%q}`, i+1, word))
	}
	ev("response.completed", `{"type":"response.completed","sequence_number":9,"response":`+resp+`}`)
}

// TestResponsesFailover: the Responses API fails over from a 503 to the
// backup, streaming and not, through the official client.
func TestResponsesFailover(t *testing.T) {
	primary := newUpstream(t, "primary", fail(http.StatusServiceUnavailable, `{"error":{"message":"down","type":"server_error"}}`))
	backup := newUpstream(t, "backup", respond)
	r := startRelais(t, topology{Primary: primary.url(), Backup: backup.url(), Retries: "{attempts: 1}"}.yaml())
	c := r.client(t)
	var resp *http.Response
	got, err := c.Responses.New(t.Context(), responses.ResponseNewParams{
		Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
	}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatalf("responses: %v", err)
	}
	if got.OutputText() != "Hello from backup." || resp.Header.Get("X-Relais-Provider") != "backup" {
		t.Errorf("response %q from %s", got.OutputText(), resp.Header.Get("X-Relais-Provider"))
	}
	if backup.last().Model != "backup-model" || backup.last().Path != "/v1/responses" {
		t.Errorf("backup got %+v", backup.last())
	}

	s := c.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{
		Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
	})
	var text string
	completed := false
	for s.Next() {
		switch ev := s.Current(); ev.Type {
		case "response.output_text.delta":
			text += ev.Delta
		case "response.completed":
			completed = true
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if text != "Hello from backup." || !completed {
		t.Errorf("streamed %q, completed %v", text, completed)
	}
	if strings.Contains(string(backup.last().Body), "stream_options") {
		t.Errorf("a Responses request must not get stream_options: %s", backup.last().Body)
	}
}
