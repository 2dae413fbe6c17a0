package app_test

// Both API dialects in and out: the official OpenAI and Anthropic SDKs
// against targets of either type, translated when they differ.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider/sim"
)

// anthropicClient returns the official Anthropic client pointed at relais,
// with the SDK's own retries off.
func (r *relais) anthropicClient(t *testing.T) anthropic.Client {
	t.Helper()
	return anthropic.NewClient(
		aoption.WithBaseURL("http://"+r.addr),
		aoption.WithAPIKey(testKey),
		aoption.WithMaxRetries(0),
		aoption.WithHTTPClient(newHTTPClient(t)),
	)
}

// dialectUpstreams are fake APIs for the anthropic and azure_openai kinds:
// simulated servers in Anthropic's and OpenAI's shapes, the Azure one
// behind Azure's deployment URLs, checking the credentials each kind sends.
type dialectUpstreams struct {
	anthropicURL, azureURL string
}

func startDialectUpstreams(t *testing.T) dialectUpstreams {
	t.Helper()
	claude := sim.NewServer(&sim.Spec{Dialect: "anthropic", Seed: 4}, clock.Real{})
	anth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != "sk-ant-test" || r.Header.Get("Anthropic-Version") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`))
			return
		}
		claude.ServeHTTP(w, r)
	}))
	t.Cleanup(anth.Close)
	gpt := sim.NewServer(&sim.Spec{Seed: 5}, clock.Real{})
	azure := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deployment, op, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/openai/deployments/"), "/")
		if !ok || r.URL.Query().Get("api-version") != "2024-10-21" || r.Header.Get("Api-Key") != "azure-test-key" || deployment != "gpt-deploy" {
			http.Error(w, `{"error":{"code":"DeploymentNotFound","message":"no such deployment"}}`, http.StatusNotFound)
			return
		}
		r.URL.Path = "/v1/" + op
		gpt.ServeHTTP(w, r)
	}))
	t.Cleanup(azure.Close)
	return dialectUpstreams{anthropicURL: anth.URL + "/v1", azureURL: azure.URL}
}

// dialectTopology has one route per provider kind and dialect, plus
// "failover", whose OpenAI-typed first choice is primaryURL and whose
// fallback is Anthropic-typed.
func dialectTopology(t *testing.T, primaryURL string) string {
	up := startDialectUpstreams(t)
	return fmt.Sprintf(`listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
providers:
  - {name: claude, type: sim, dialect: anthropic, latency: 1ms, ttft: 1ms, seed: 1}
  - {name: gpt, type: sim, latency: 1ms, ttft: 1ms, seed: 2}
  - {name: anthropic-api, type: anthropic, base_url: %q, api_key: sk-ant-test}
  - {name: azure, type: azure_openai, endpoint: %q, api_version: "2024-10-21", api_key: azure-test-key}
  - {name: primary, type: openai, base_url: %q}
routes:
  - model: to-claude
    targets: [{provider: claude, model: claude-sim}]
  - model: to-gpt
    targets: [{provider: gpt, model: gpt-sim}]
  - model: to-anthropic-api
    targets: [{provider: anthropic-api, model: claude-api-model}]
  - model: to-azure
    targets: [{provider: azure, model: gpt-deploy}]
  - model: failover
    targets:
      - {provider: primary, model: primary-model}
      - {provider: anthropic-api, model: claude-api-model}
retries: {attempts: 1}
`, up.anthropicURL, up.azureURL, primaryURL)
}

// everyTarget is each route of dialectTopology, with who serves it.
var everyTarget = []struct{ route, provider, model string }{
	{"to-claude", "claude", "claude-sim"},
	{"to-gpt", "gpt", "gpt-sim"},
	{"to-anthropic-api", "anthropic-api", "claude-api-model"},
	{"to-azure", "azure", "gpt-deploy"},
	{"failover", "anthropic-api", "claude-api-model"},
}

var weatherTool = struct {
	name   string
	schema map[string]any
}{"get_weather", map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}}

// TestOpenAIClientEveryTarget: openai-go gets text, streams and tool calls
// from an Anthropic target (translated) and an OpenAI one (forwarded).
func TestOpenAIClientEveryTarget(t *testing.T) {
	down := newUpstream(t, "primary", fail(http.StatusServiceUnavailable, `{"error":{"message":"down","type":"server_error"}}`))
	r := startRelais(t, dialectTopology(t, down.url()))
	c := r.client(t)
	for _, tc := range everyTarget {
		t.Run(tc.route, func(t *testing.T) {
			var resp *http.Response
			cc, err := c.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
				Model:    tc.route,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Say hello.")},
			}, option.WithResponseInto(&resp))
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if got := resp.Header.Get("X-Relais-Provider"); got != tc.provider {
				t.Errorf("served by %q, want %q", got, tc.provider)
			}
			if len(cc.Choices) != 1 || cc.Choices[0].Message.Content == "" || cc.Choices[0].FinishReason != "stop" || cc.Model != tc.model {
				t.Errorf("completion: %+v", cc)
			}
			if cc.Usage.PromptTokens == 0 || cc.Usage.CompletionTokens == 0 {
				t.Errorf("usage: %+v", cc.Usage)
			}

			stream := c.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
				Model:         tc.route,
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story.")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			var acc openai.ChatCompletionAccumulator
			chunks := 0
			for stream.Next() {
				acc.AddChunk(stream.Current())
				chunks++
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if chunks < 3 || len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "stop" {
				t.Errorf("stream of %d chunks accumulated to %+v", chunks, acc.ChatCompletion)
			}
			if acc.Usage.CompletionTokens == 0 {
				t.Errorf("stream usage: %+v", acc.Usage)
			}

			params := openai.ChatCompletionNewParams{
				Model:    tc.route,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in Paris?")},
				Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
					Name: weatherTool.name, Parameters: weatherTool.schema,
				})},
				ToolChoice: openai.ChatCompletionToolChoiceOptionUnionParam{OfAuto: openai.String("required")},
			}
			tc2, err := c.Chat.Completions.New(t.Context(), params)
			if err != nil {
				t.Fatalf("tools: %v", err)
			}
			calls := tc2.Choices[0].Message.ToolCalls
			if len(calls) != 1 || calls[0].Function.Name != weatherTool.name || !json.Valid([]byte(calls[0].Function.Arguments)) || tc2.Choices[0].FinishReason != "tool_calls" {
				t.Errorf("tool call: %+v", tc2.Choices[0])
			}
			ts := c.Chat.Completions.NewStreaming(t.Context(), params)
			var tacc openai.ChatCompletionAccumulator
			for ts.Next() {
				tacc.AddChunk(ts.Current())
			}
			if err := ts.Err(); err != nil {
				t.Fatalf("tool stream: %v", err)
			}
			if calls := tacc.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != weatherTool.name || calls[0].ID == "" {
				t.Errorf("streamed tool call: %+v", tacc.Choices[0])
			}
		})
	}
}

// TestAnthropicClientEveryTarget: anthropic-sdk-go gets messages, streams
// and tool use from an Anthropic target (forwarded) and an OpenAI one
// (translated).
func TestAnthropicClientEveryTarget(t *testing.T) {
	down := newUpstream(t, "primary", fail(http.StatusServiceUnavailable, `{"error":{"message":"down","type":"server_error"}}`))
	r := startRelais(t, dialectTopology(t, down.url()))
	c := r.anthropicClient(t)
	for _, tc := range everyTarget {
		t.Run(tc.route, func(t *testing.T) {
			var resp *http.Response
			msg, err := c.Messages.New(t.Context(), anthropic.MessageNewParams{
				Model:     tc.route,
				MaxTokens: 256,
				System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello."))},
			}, aoption.WithResponseInto(&resp))
			if err != nil {
				t.Fatalf("messages: %v", err)
			}
			if got := resp.Header.Get("X-Relais-Provider"); got != tc.provider {
				t.Errorf("served by %q, want %q", got, tc.provider)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.StopReason != anthropic.StopReasonEndTurn || msg.Usage.OutputTokens == 0 {
				t.Errorf("message: %+v", msg)
			}

			stream := c.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{
				Model:     tc.route,
				MaxTokens: 256,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Tell me a story."))},
			})
			var acc anthropic.Message
			events := 0
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
				events++
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if events < 5 || len(acc.Content) == 0 || acc.Content[0].Text == "" || acc.StopReason != anthropic.StopReasonEndTurn || acc.Usage.OutputTokens == 0 {
				t.Errorf("stream of %d events accumulated to %+v", events, acc)
			}

			params := anthropic.MessageNewParams{
				Model:     tc.route,
				MaxTokens: 256,
				Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))},
				Tools: []anthropic.ToolUnionParam{anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
					Properties: weatherTool.schema["properties"], Required: []string{"city"},
				}, weatherTool.name)},
				ToolChoice: anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}},
			}
			tm, err := c.Messages.New(t.Context(), params)
			if err != nil {
				t.Fatalf("tools: %v", err)
			}
			if len(tm.Content) == 0 || tm.Content[len(tm.Content)-1].Type != "tool_use" || tm.Content[len(tm.Content)-1].Name != weatherTool.name || tm.StopReason != anthropic.StopReasonToolUse {
				t.Errorf("tool use: %+v", tm)
			}
			ts := c.Messages.NewStreaming(t.Context(), params)
			var tacc anthropic.Message
			for ts.Next() {
				if err := tacc.Accumulate(ts.Current()); err != nil {
					t.Fatalf("accumulate: %v", err)
				}
			}
			if err := ts.Err(); err != nil {
				t.Fatalf("tool stream: %v", err)
			}
			if n := len(tacc.Content); n == 0 || tacc.Content[n-1].Type != "tool_use" || tacc.Content[n-1].Name != weatherTool.name || tacc.Content[n-1].ID == "" {
				t.Errorf("streamed tool use: %+v", tacc)
			}
		})
	}
}

// TestDialectModelsAndErrors: each client lists models and gets errors in
// its own API's shape.
func TestDialectModelsAndErrors(t *testing.T) {
	down := newUpstream(t, "primary", fail(http.StatusServiceUnavailable, `{"error":{"message":"down","type":"server_error"}}`))
	r := startRelais(t, dialectTopology(t, down.url()))
	ac := r.anthropicClient(t)
	page, err := ac.Models.List(t.Context(), anthropic.ModelListParams{})
	if err != nil {
		t.Fatalf("anthropic models: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	if strings.Join(ids, ",") != "failover,to-anthropic-api,to-azure,to-claude,to-gpt" {
		t.Errorf("anthropic models: %v", ids)
	}
	if got := modelIDs(t, r.client(t)); strings.Join(got, ",") != "failover,to-anthropic-api,to-azure,to-claude,to-gpt" {
		t.Errorf("openai models: %v", got)
	}

	_, err = ac.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "nope", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound || !strings.Contains(ae.RawJSON(), `"type":"not_found_error"`) {
		t.Errorf("anthropic unknown model: %v", err)
	}

	// An OpenAI-only endpoint on a route whose only target speaks Anthropic.
	resp, body := r.do(t, http.MethodPost, "/v1/responses", `{"model":"to-claude","input":"hi"}`, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "unsupported_endpoint") {
		t.Errorf("responses on an anthropic route: %d %s", resp.StatusCode, body)
	}
}

// TestInbandErrorFailsOver: an Anthropic stream whose first event is an
// overloaded error is a failed attempt; the client's stream comes whole from
// the next target, in the client's dialect.
func TestInbandErrorFailsOver(t *testing.T) {
	r := startRelais(t, `listen: 127.0.0.1:0
admin: {listen: 127.0.0.1:0}
providers:
  - {name: claude, type: sim, dialect: anthropic, latency: 1ms, ttft: 1ms, schedule: {periods: [{from: 0s, to: 1h, mode: inband_error}]}}
  - {name: gpt, type: sim, latency: 1ms, ttft: 1ms}
routes:
  - model: chat
    targets: [{provider: claude, model: claude-sim}, {provider: gpt, model: gpt-sim}]
retries: {attempts: 1}
`)
	for _, sdk := range []string{"openai", "anthropic"} {
		t.Run(sdk, func(t *testing.T) {
			var text string
			var resp *http.Response
			if sdk == "openai" {
				c := r.client(t)
				s := c.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
					Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				}, option.WithResponseInto(&resp))
				for s.Next() {
					if len(s.Current().Choices) > 0 {
						text += s.Current().Choices[0].Delta.Content
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				c := r.anthropicClient(t)
				s := c.Messages.NewStreaming(t.Context(), anthropic.MessageNewParams{
					Model: "chat", MaxTokens: 64, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
				}, aoption.WithResponseInto(&resp))
				var acc anthropic.Message
				for s.Next() {
					if err := acc.Accumulate(s.Current()); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Err(); err != nil {
					t.Fatal(err)
				}
				if len(acc.Content) > 0 {
					text = acc.Content[0].Text
				}
			}
			if text == "" || resp.Header.Get("X-Relais-Provider") != "gpt" || resp.Header.Get("X-Relais-Attempts") != "2" {
				t.Errorf("text %q from %s after %s attempts", text, resp.Header.Get("X-Relais-Provider"), resp.Header.Get("X-Relais-Attempts"))
			}
		})
	}
	if got := r.metric(t, "relais_upstream_attempts_total", `provider="claude"`, `outcome="inband_error"`); got != 2 {
		t.Errorf("claude inband_error attempts = %v, want 2", got)
	}
}
