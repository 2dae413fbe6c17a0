package sim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider"
)

func newProvider(t *testing.T, s *Spec) *Provider {
	t.Helper()
	p, err := New(provider.Options{Name: "sim1"}, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProvider(t *testing.T) {
	t.Parallel()
	p := newProvider(t, &Spec{Seed: 5, TokensPerSecond: 1000})
	if p.Name() != "sim1" || !strings.HasPrefix(p.URL(), "http://127.0.0.1:") || p.Server().Start().IsZero() {
		t.Fatalf("name %q, url %q, start %v", p.Name(), p.URL(), p.Server().Start())
	}
	tests := []struct {
		name  string
		call  provider.Call
		check string // a gjson path that must exist in the answer
	}{
		{"chat", provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Body: []byte(chatBody("hi", ""))}, "choices.0.message.content"},
		{"stream", provider.Call{Endpoint: provider.ChatCompletions, Model: "m", Stream: true, Body: []byte(chatBody("hi", `,"stream":true`))}, ""},
		{"embeddings", provider.Call{Endpoint: provider.Embeddings, Model: "e", Body: []byte(`{"model":"e","input":"hi"}`)}, "data.0.embedding"},
		{"models", provider.Call{Endpoint: provider.Models}, "data.0.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.call.RequestID = "req-" + tt.name
			resp, err := p.Do(t.Context(), &tt.call)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, err %v: %s", resp.StatusCode, err, b)
			}
			if id := resp.Header.Get("X-Request-Id"); id != tt.call.RequestID {
				t.Errorf("X-Request-Id = %q, want %q", id, tt.call.RequestID)
			}
			if tt.call.Stream {
				if events := readSSE(t, b); events[len(events)-1] != "[DONE]" {
					t.Errorf("stream ends with %q", events[len(events)-1])
				}
			} else if !gjson.GetBytes(b, tt.check).Exists() {
				t.Errorf("answer %s has no %s", b, tt.check)
			}
		})
	}
}

func TestNewInvalidSpec(t *testing.T) {
	t.Parallel()
	_, err := New(provider.Options{Name: "x"}, &Spec{ErrorRate: 2})
	if err == nil || !strings.Contains(err.Error(), "error_rate") {
		t.Errorf("err = %v, want the error_rate problem", err)
	}
}

func TestProviderClose(t *testing.T) {
	t.Parallel()
	p, err := New(provider.Options{Name: "x"}, &Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	resp, err := p.Do(t.Context(), &provider.Call{Endpoint: provider.Models})
	if err == nil {
		resp.Body.Close()
		t.Error("a call after Close reached a server")
	}
}

// TestProviderCloseHungCall: Close waits for answers in flight only so long,
// then drops the connections of calls that would never end.
func TestProviderCloseHungCall(t *testing.T) {
	t.Parallel()
	p, err := New(provider.Options{Name: "x"}, &Spec{Schedule: Schedule{Periods: []Period{{To: dur(time.Hour), Fault: Fault{Mode: Hang}}}}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := p.Do(context.Background(), &provider.Call{Endpoint: provider.Models})
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	// Give the call time to reach the server. Should it still be on its way,
	// Close refuses it, which is also an error for the caller.
	time.Sleep(100 * time.Millisecond)
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("the hung call got an answer")
	}
}

// TestOpenAIClient checks the sim's shapes with the official client: if it
// can read them, so can any application behind relais.
func TestOpenAIClient(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	spec := &Spec{Seed: 8, TokensPerSecond: 1000, Schedule: Schedule{Cycle: dur(time.Hour), Periods: []Period{
		{From: dur(30 * time.Minute), To: dur(40 * time.Minute), Fault: Fault{Mode: RateLimit}},
	}}}
	ts := serve(t, spec, clk)
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := t.Context()
	params := openai.ChatCompletionNewParams{
		Model:         "m",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello there")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	stream.Close()

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	whole, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if got, want := acc.Choices[0].Message.Content, whole.Choices[0].Message.Content; got == "" || got != want {
		t.Errorf("streamed %q, whole %q", got, want)
	}
	if acc.Usage.TotalTokens == 0 || acc.Usage.TotalTokens != whole.Usage.TotalTokens || whole.Choices[0].FinishReason != "stop" {
		t.Errorf("usage streamed %+v, whole %+v, finish %q", acc.Usage, whole.Usage, whole.Choices[0].FinishReason)
	}

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "e",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 8 {
		t.Errorf("embeddings: %v, %+v", err, emb)
	}

	models, err := client.Models.List(ctx)
	if err != nil || len(models.Data) != 2 || models.Data[0].ID != "sim-chat" {
		t.Errorf("models: %v, %+v", err, models)
	}

	clk.Advance(35 * time.Minute)
	_, err = client.Chat.Completions.New(ctx, params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" {
		t.Errorf("during rate_limit: %v", err)
	}
}
