package translate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
	"github.com/tidwall/gjson"
)

// fakeGateway stands where relais does, between the official OpenAI client
// and an Anthropic upstream that answers with a recorded-shaped body: it
// translates the client's request, checks it, and translates the answer.
func fakeGateway(t *testing.T, upstreamStatus int, upstream []byte) *openai.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		areq, err := ChatToMessages(body, "claude-sonnet-4-5", 1024)
		if err != nil {
			var e *Error
			errors.As(err, &e)
			w.WriteHeader(e.Status)
			_, _ = w.Write(OpenAIError("invalid_request_error", "invalid_request", e.Message))
			return
		}
		if !json.Valid(areq) || gjson.GetBytes(areq, "max_tokens").Int() == 0 {
			t.Errorf("bad Anthropic request: %s", areq)
		}
		if upstreamStatus != http.StatusOK {
			status, out := ErrorToOpenAI(upstreamStatus, upstream)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(out)
			return
		}
		if !gjson.GetBytes(areq, "stream").Bool() {
			out, _, err := MessagesResponseToChat(upstream, "claude-sonnet-4-5", created)
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(out)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		s := MessagesToChatStream("chatcmpl-relais", "claude-sonnet-4-5", created,
			gjson.GetBytes(body, "stream_options.include_usage").Bool(), false)
		var buf []byte
		for _, ev := range parseSSE(upstream) {
			buf, _ = s.Convert(buf[:0], ev)
			_, _ = w.Write(buf)
		}
		_, _ = w.Write(s.Finish(buf[:0]))
	}))
	t.Cleanup(srv.Close)
	c := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
	return &c
}

var weatherTool = openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Get the current weather in a given location"),
	Parameters: shared.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"location": map[string]any{"type": "string"}},
	},
})

func TestOpenAIClientNonStream(t *testing.T) {
	t.Parallel()
	c := fakeGateway(t, http.StatusOK, read(t, "testdata/messages_response/tool_use.json"))
	res, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("Weather in San Francisco?"),
		},
		Tools:       []openai.ChatCompletionToolUnionParam{weatherTool},
		Temperature: openai.Float(0.2),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := res.Choices[0]
	if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 2 ||
		ch.Message.ToolCalls[0].Function.Arguments != `{"location":"San Francisco, CA","unit":"celsius"}` ||
		res.Usage.PromptTokens != 472 || res.Usage.CompletionTokens != 91 {
		t.Errorf("unexpected completion: %+v", res)
	}
}

func TestOpenAIClientStream(t *testing.T) {
	t.Parallel()
	c := fakeGateway(t, http.StatusOK, read(t, "testdata/messages_stream/tool_use.sse"))
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude-sonnet-4-5",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in San Francisco?")},
		Tools:         []openai.ChatCompletionToolUnionParam{weatherTool},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	ch := acc.Choices[0]
	if ch.Message.Content != "Okay, let's check the weather for San Francisco, CA:" || ch.FinishReason != "tool_calls" ||
		len(ch.Message.ToolCalls) != 2 || ch.Message.ToolCalls[0].ID != "toolu_01T1x1fJ34qAmk2tNTrN7Up6" ||
		ch.Message.ToolCalls[0].Function.Arguments != `{"location": "San Francisco, CA", "unit": "fahrenheit"}` ||
		ch.Message.ToolCalls[1].Function.Arguments != `{}` ||
		acc.Usage.PromptTokens != 472 || acc.Usage.CompletionTokens != 89 {
		t.Errorf("unexpected accumulation: %+v usage %+v", ch, acc.Usage)
	}
}

func TestOpenAIClientStreamError(t *testing.T) {
	t.Parallel()
	c := fakeGateway(t, http.StatusOK, read(t, "testdata/messages_stream/error.sse"))
	stream := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
	})
	for stream.Next() {
	}
	if err := stream.Err(); err == nil {
		t.Error("the in-band error did not reach the client")
	}
}

func TestOpenAIClientError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status, want int
		typ          string
	}{
		{529, 503, "overloaded_error"},
		{429, 429, "rate_limit_error"},
		{401, 401, "authentication_error"},
		{400, 400, "invalid_request_error"},
	} {
		c := fakeGateway(t, tt.status, []byte(`{"type":"error","error":{"type":"`+tt.typ+`","message":"upstream says no"}}`))
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "claude-sonnet-4-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hi")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.want || apiErr.Message != "upstream says no" {
			t.Errorf("%d %s: client got %v", tt.status, tt.typ, err)
		}
	}
}
