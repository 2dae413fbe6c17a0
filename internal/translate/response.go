package translate

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/tidwall/gjson"
)

// errNotMessage and errNotCompletion say that an upstream's 200 answer is
// not what its API promises; the gateway answers such a body with a 502.
var (
	errNotMessage    = errors.New("translate: the upstream answer is not an Anthropic message")
	errNotCompletion = errors.New("translate: the upstream answer is not an OpenAI chat completion")
)

// MessagesResponseToChat converts a non-stream Anthropic message into an
// OpenAI chat.completion: the id is kept, created and model are the
// arguments, there is one choice. Text blocks are joined; tool_use blocks
// become tool_calls (content is null when there is no text beside them);
// thinking blocks are dropped. stop_reason end_turn, stop_sequence and
// pause_turn become finish_reason "stop", max_tokens "length", tool_use
// "tool_calls", refusal "content_filter". Usage counts cache reads and writes
// in prompt_tokens, as OpenAI does, and reads in cached_tokens.
//
// An error means body is not a message (a plain error, not an *Error: the
// upstream is at fault).
func MessagesResponseToChat(body []byte, model string, created int64) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, errNotMessage
	}
	msg := gjson.ParseBytes(body)
	content := msg.Get("content")
	if !msg.IsObject() || msg.Get("type").String() == "error" || !content.IsArray() {
		return nil, Usage{}, errNotMessage
	}
	reply := oReplyMessage{Role: "assistant"}
	var text strings.Builder
	hasText := false
	for _, b := range content.Array() {
		switch b.Get("type").String() {
		case "text":
			text.WriteString(b.Get("text").String())
			hasText = true
		case "tool_use":
			args := "{}"
			if in := b.Get("input"); in.Exists() {
				if compact, err := marshal(json.RawMessage(in.Raw)); err == nil {
					args = string(compact)
				}
			}
			reply.ToolCalls = append(reply.ToolCalls, oToolCall{
				ID:       b.Get("id").String(),
				Type:     "function",
				Function: oFunction{Name: b.Get("name").String(), Arguments: args},
			})
		}
	}
	if hasText || len(reply.ToolCalls) == 0 {
		s := text.String()
		reply.Content = &s
	}
	u := anthropicUsage(msg.Get("usage"))
	out := oResponse{
		ID:      msg.Get("id").String(),
		Object:  "chat.completion",
		Created: created,
		Model:   model,
		Choices: []oChoice{{
			Message:      reply,
			FinishReason: finishReason(msg.Get("stop_reason").String()),
		}},
		Usage: oUsage{
			PromptTokens:        u.Input,
			CompletionTokens:    u.Output,
			TotalTokens:         u.Input + u.Output,
			PromptTokensDetails: oPromptTokensDetails{CachedTokens: u.CachedInput},
		},
	}
	b, err := marshal(&out)
	if err != nil {
		return nil, Usage{}, err
	}
	return b, u, nil
}

// anthropicUsage reads an Anthropic usage object.
func anthropicUsage(v gjson.Result) Usage {
	read := count(v.Get("cache_read_input_tokens"))
	return Usage{
		Input:       count(v.Get("input_tokens")) + read + count(v.Get("cache_creation_input_tokens")),
		Output:      count(v.Get("output_tokens")),
		CachedInput: read,
	}
}

// ChatResponseToMessages converts a non-stream OpenAI chat.completion (its
// first choice) into an Anthropic message for model: the text (and a
// refusal, as text) then one tool_use block per tool call, whose input is the
// arguments parsed ({} when they are not a JSON object). finish_reason stop
// becomes end_turn, length max_tokens, tool_calls tool_use, content_filter
// (or a refusal) refusal; stop_sequence is null, as OpenAI does not say which
// stop matched. input_tokens excludes the cached tokens, which are
// cache_read_input_tokens, as Anthropic counts them.
//
// An error means body is not a chat completion (a plain error: the upstream
// is at fault).
func ChatResponseToMessages(body []byte, model string) ([]byte, Usage, error) {
	if !validJSON(body) {
		return nil, Usage{}, errNotCompletion
	}
	resp := gjson.ParseBytes(body)
	choice := resp.Get("choices.0")
	if !resp.IsObject() || !choice.IsObject() {
		return nil, Usage{}, errNotCompletion
	}
	msg := choice.Get("message")
	out := aResponse{
		ID:         resp.Get("id").String(),
		Type:       "message",
		Role:       "assistant",
		Model:      model,
		Content:    []any{},
		StopReason: stopReason(choice.Get("finish_reason").String()),
	}
	if s := msg.Get("content").String(); s != "" && msg.Get("content").Type == gjson.String {
		out.Content = append(out.Content, aText{Type: "text", Text: s})
	}
	if r := msg.Get("refusal"); r.Type == gjson.String && r.Str != "" {
		out.Content = append(out.Content, aText{Type: "text", Text: r.Str})
		out.StopReason = "refusal"
	}
	for _, tc := range msg.Get("tool_calls").Array() {
		input := json.RawMessage("{}")
		if args := tc.Get("function.arguments").String(); gjson.Valid(args) && !tooDeep([]byte(args)) && gjson.Parse(args).IsObject() {
			input = json.RawMessage(args)
		}
		out.Content = append(out.Content, aToolUse{
			Type:  "tool_use",
			ID:    sanitizeID(tc.Get("id").String()),
			Name:  tc.Get("function.name").String(),
			Input: input,
		})
	}
	u := openAIUsage(resp.Get("usage"))
	out.Usage = aUsage{
		InputTokens:          u.Input - u.CachedInput,
		CacheReadInputTokens: u.CachedInput,
		OutputTokens:         u.Output,
	}
	b, err := marshal(&out)
	if err != nil {
		return nil, Usage{}, err
	}
	return b, u, nil
}

// openAIUsage reads an OpenAI usage object. cached_tokens is bounded by
// prompt_tokens, so Anthropic's input_tokens is never negative.
func openAIUsage(v gjson.Result) Usage {
	u := Usage{
		Input:       count(v.Get("prompt_tokens")),
		Output:      count(v.Get("completion_tokens")),
		CachedInput: count(v.Get("prompt_tokens_details.cached_tokens")),
	}
	u.CachedInput = min(u.CachedInput, u.Input)
	return u
}

// count reads a token count; a count that is not a number, negative or
// absurd (past a billion tokens) is 0, so sums cannot overflow.
func count(v gjson.Result) int {
	n := v.Int()
	if v.Type != gjson.Number || n < 0 || n > 1<<30 {
		return 0
	}
	return int(n)
}
