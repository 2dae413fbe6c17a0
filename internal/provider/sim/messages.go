package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// This file is the anthropic dialect: Anthropic's Messages API, its model
// list and its errors.

type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	OutputTokens             int `json:"output_tokens"`
}

// contentBlock is a text or tool_use block.
type contentBlock struct {
	Type  string          `json:"type"`
	Text  *string         `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

type messageObject struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Role         string         `json:"role"`
	Model        string         `json:"model"`
	Content      []contentBlock `json:"content"`
	StopReason   *string        `json:"stop_reason"`
	StopSequence *string        `json:"stop_sequence"`
	Usage        anthropicUsage `json:"usage"`
}

// anthropicAnswer is a message ready to send, whole or as events.
type anthropicAnswer struct {
	msg  messageObject // without Content, StopReason and OutputTokens
	toks []string
	// tool, when set, is the answer instead of toks: a tool_use block with
	// the input {}.
	tool   *contentBlock
	stop   string
	output int // output tokens
}

// messages answers POST /v1/messages. A last message from the assistant is
// a prefill: its text counts in the prompt, and the answer goes on from it.
func (s *Server) messages(w http.ResponseWriter, r *http.Request, body []byte, pl plan) {
	req := gjson.ParseBytes(body)
	model := req.Get("model")
	if model.Type != gjson.String || model.Str == "" {
		s.fail(w, http.StatusBadRequest, "", "model: Field required")
		return
	}
	msgs := req.Get("messages")
	if !msgs.IsArray() {
		s.fail(w, http.StatusBadRequest, "", "messages: Field required")
		return
	}
	if !msgs.Get("0").Exists() {
		s.fail(w, http.StatusBadRequest, "", "messages: at least one message is required")
		return
	}
	// The Messages API has no default for max_tokens; a translation that
	// forgets it must fail here as it would at Anthropic.
	limit := req.Get("max_tokens")
	if !limit.Exists() {
		s.fail(w, http.StatusBadRequest, "", "max_tokens: Field required")
		return
	}
	if limit.Type != gjson.Number || limit.Int() < 1 || float64(limit.Int()) != limit.Num {
		s.fail(w, http.StatusBadRequest, "", "max_tokens: Input should be a positive integer")
		return
	}
	var b strings.Builder
	if sys := req.Get("system"); sys.Exists() {
		writeText(&b, sys)
		b.WriteByte('\n')
	}
	b.WriteString(promptText(msgs))
	prompt := b.String()

	a := anthropicAnswer{
		msg: messageObject{
			ID:    "msg_sim_" + strconv.FormatUint(s.ids.Add(1), 10),
			Type:  "message",
			Role:  "assistant",
			Model: model.Str,
			Usage: anthropicUsage{InputTokens: countTokens(prompt)},
		},
		stop: "end_turn",
	}
	switch name, forced := forcedAnthropicTool(req); {
	case pl.mode == Empty:
	case forced:
		a.tool = &contentBlock{Type: "tool_use", ID: "toolu_sim_" + strconv.FormatUint(s.ids.Add(1), 10),
			Name: name, Input: json.RawMessage(toolArguments)}
		a.stop = "tool_use"
		a.output = toolTokens(name)
	default:
		a.toks = completion(s.spec.Seed, prompt)
		if int64(len(a.toks)) > limit.Int() {
			a.toks, a.stop = a.toks[:limit.Int()], "max_tokens"
		}
		a.output = len(a.toks)
	}

	if req.Get("stream").Bool() {
		streamMessage(r.Context(), w, pl, a)
		return
	}
	// The whole answer is due when its stream would have ended.
	if !pl.wait(r.Context(), pl.token(max(len(a.toks)-1, 0))) {
		return
	}
	if pl.mode == CutStream {
		cut()
	}
	m := a.msg
	m.Content = []contentBlock{}
	switch {
	case a.tool != nil:
		m.Content = append(m.Content, *a.tool)
	case len(a.toks) > 0:
		text := joinTokens(a.toks)
		m.Content = append(m.Content, contentBlock{Type: "text", Text: &text})
	}
	m.StopReason = &a.stop
	m.Usage.OutputTokens = a.output
	writeJSON(w, http.StatusOK, m)
}

// streamEvent is the data of one Messages stream event.
type streamEvent struct {
	Type         string         `json:"type"`
	Message      *messageObject `json:"message,omitempty"`
	Index        *int           `json:"index,omitempty"`
	ContentBlock *contentBlock  `json:"content_block,omitempty"`
	Delta        any            `json:"delta,omitempty"`
	Usage        *outputUsage   `json:"usage,omitempty"`
}

type blockDelta struct {
	Type        string  `json:"type"`
	Text        *string `json:"text,omitempty"`
	PartialJSON *string `json:"partial_json,omitempty"`
}

type stopDelta struct {
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

type outputUsage struct {
	OutputTokens int `json:"output_tokens"`
}

// streamMessage sends the answer as Anthropic does, each event flushed:
// message_start, content_block_start, ping, one content_block_delta per token
// at its pace (or the tool's input), content_block_stop, message_delta with
// the stop reason and usage, message_stop. An empty answer is message_start
// and message_stop alone.
func streamMessage(ctx context.Context, w http.ResponseWriter, pl plan, a anthropicAnswer) {
	if !pl.wait(ctx, pl.headers) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if pl.mode == InbandError {
		send("error", anthropicErrorBody("overloaded_error", "Overloaded"))
		return
	}
	start := a.msg
	start.Content = []contentBlock{}
	start.Usage.OutputTokens = min(a.output, 1)
	if !send("message_start", streamEvent{Type: "message_start", Message: &start}) {
		return
	}
	stop := streamEvent{Type: "message_stop"}
	if pl.mode == Empty {
		send("message_stop", stop)
		return
	}
	zero := 0
	block := contentBlock{Type: "text", Text: new(string)}
	if a.tool != nil {
		block = *a.tool
		block.Input = json.RawMessage(`{}`) // the input comes in deltas
	}
	if !send("content_block_start", streamEvent{Type: "content_block_start", Index: &zero, ContentBlock: &block}) ||
		!send("ping", streamEvent{Type: "ping"}) {
		return
	}
	delta := func(d blockDelta) bool {
		return send("content_block_delta", streamEvent{Type: "content_block_delta", Index: &zero, Delta: d})
	}
	if a.tool != nil {
		input := string(a.tool.Input)
		if !pl.wait(ctx, pl.token(0)) || !delta(blockDelta{Type: "input_json_delta", PartialJSON: &input}) {
			return
		}
		if pl.mode == CutStream {
			cut()
		}
	}
	for i, tok := range a.toks {
		if !pl.wait(ctx, pl.token(i)) || !delta(blockDelta{Type: "text_delta", Text: &tok}) {
			return
		}
		if pl.mode == CutStream {
			cut()
		}
	}
	if !send("content_block_stop", streamEvent{Type: "content_block_stop", Index: &zero}) ||
		!send("message_delta", streamEvent{Type: "message_delta", Delta: stopDelta{StopReason: a.stop}, Usage: &outputUsage{a.output}}) {
		return
	}
	send("message_stop", stop)
}

// forcedAnthropicTool returns the tool an Anthropic request makes the answer
// call: tool_choice {"type":"any"} forces the first tool, {"type":"tool",
// "name":…} the one it names.
func forcedAnthropicTool(req gjson.Result) (string, bool) {
	tools := req.Get("tools")
	if !tools.IsArray() || !tools.Get("0").Exists() {
		return "", false
	}
	var name string
	switch tc := req.Get("tool_choice"); tc.Get("type").Str {
	case "any":
		name = tools.Get("0.name").Str
	case "tool":
		name = tc.Get("name").Str
	}
	return name, name != ""
}

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// anthropicModels answers GET /v1/models in Anthropic's list shape, all on
// one page.
func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request, _ []byte, pl plan) {
	if !pl.wait(r.Context(), pl.headers) {
		return
	}
	if pl.mode == CutStream {
		cut()
	}
	list := struct {
		Data    []anthropicModel `json:"data"`
		HasMore bool             `json:"has_more"`
		FirstID *string          `json:"first_id"`
		LastID  *string          `json:"last_id"`
	}{Data: []anthropicModel{}}
	if pl.mode != Empty {
		created := s.start.UTC().Format(time.RFC3339)
		for _, m := range s.spec.Models {
			list.Data = append(list.Data, anthropicModel{Type: "model", ID: m, DisplayName: m, CreatedAt: created})
		}
	}
	if n := len(list.Data); n > 0 {
		list.FirstID, list.LastID = &list.Data[0].ID, &list.Data[n-1].ID
	}
	writeJSON(w, http.StatusOK, list)
}

type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func anthropicErrorBody(typ, msg string) anthropicError {
	e := anthropicError{Type: "error"}
	e.Error.Type, e.Error.Message = typ, msg
	return e
}

// writeAnthropicError answers in Anthropic's error shape.
func writeAnthropicError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, anthropicErrorBody(anthropicErrorType(status), msg))
}

// anthropicErrorType is Anthropic's error type for a status.
func anthropicErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == 529:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// writeAnthropicRateLimit answers 429 as Anthropic does: retry-after in
// seconds and the anthropic-ratelimit-* headers, with the reset as a time.
func writeAnthropicRateLimit(w http.ResponseWriter, retryAfter time.Duration, now time.Time) {
	h := w.Header()
	reset := now.Add(retryAfter).UTC().Format(time.RFC3339)
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	h.Set("Anthropic-Ratelimit-Requests-Remaining", "0")
	h.Set("Anthropic-Ratelimit-Requests-Reset", reset)
	writeAnthropicError(w, http.StatusTooManyRequests,
		fmt.Sprintf("This request would exceed the rate limit for your organization. Please try again in %s.", retryAfter))
}
