// Package anthropic is the provider kind for Anthropic's Messages API
// (`type: anthropic`). It speaks the Anthropic dialect: the gateway hands it
// chat calls already in the Messages shape and translates the answers back;
// this package only sends them, with Anthropic's headers. It has no
// embeddings and no Responses API: those calls fail with
// errors.ErrUnsupported before anything is sent.
package anthropic

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
)

// Defaults of the options left unset.
const (
	DefaultBaseURL   = "https://api.anthropic.com/v1"
	DefaultVersion   = "2023-06-01"
	DefaultMaxTokens = 4096
)

// Spec is the `type: anthropic` provider's own options.
type Spec struct {
	// BaseURL ends before the endpoint; default https://api.anthropic.com/v1.
	BaseURL string        `yaml:"base_url"`
	APIKey  config.Secret `yaml:"api_key"`
	// Version is sent as anthropic-version; default 2023-06-01.
	Version string `yaml:"version"`
	// Beta names are sent joined in one anthropic-beta header.
	Beta []string `yaml:"beta"`
	// Headers are sent with every call and win over the ones above. Values
	// are secrets: gateways in front of Anthropic often carry credentials.
	Headers map[string]config.Secret `yaml:"headers"`
	// MaxIdleConns is how many idle keep-alive connections to keep.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// HTTP2 sends streams over HTTP/2 without TLS (h2c) to an http://
	// base_url, as the openai kind's option of the same name does.
	HTTP2 bool `yaml:"http2"`
	// DefaultMaxTokens is the max_tokens the gateway sends when a client's
	// request has none (the Messages API requires it); default 4096.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
}

var _ config.ProviderSpec = (*Spec)(nil)

// Validate checks the options.
func (s *Spec) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, msg string) { ps = append(ps, config.Problem{Path: path, Message: msg}) }
	if s.BaseURL != "" {
		if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("base_url", fmt.Sprintf("%q is not an http(s) URL (for example %s)", s.BaseURL, DefaultBaseURL))
		}
	}
	if !httpguts.ValidHeaderFieldValue(s.APIKey.Value()) {
		add("api_key", provider.BadHeaderValue)
	}
	if !httpguts.ValidHeaderFieldValue(s.Version) {
		add("version", provider.BadHeaderValue)
	}
	for i, b := range s.Beta {
		at := fmt.Sprintf("beta[%d]", i)
		switch {
		case strings.TrimSpace(b) == "":
			add(at, "must not be empty")
		case strings.Contains(b, ","):
			add(at, fmt.Sprintf("%q holds several names: list each as its own entry", b))
		case !httpguts.ValidHeaderFieldValue(b):
			add(at, provider.BadHeaderValue)
		}
	}
	ps = append(ps, provider.ValidateHeaders(s.Headers)...)
	if s.MaxIdleConns < 0 {
		add("max_idle_conns", "must not be negative")
	}
	if s.DefaultMaxTokens < 0 {
		add("default_max_tokens", fmt.Sprintf("must be positive (default %d), got %d", DefaultMaxTokens, s.DefaultMaxTokens))
	}
	return ps
}

// Provider sends Messages API calls to one base URL.
type Provider struct {
	name      string
	base      string
	maxTokens int
	send      *provider.Sender
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider from its spec.
func New(opts provider.Options, s *Spec) (*Provider, error) {
	base := cmp.Or(s.BaseURL, DefaultBaseURL)
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	h.Set("anthropic-version", cmp.Or(s.Version, DefaultVersion))
	if s.APIKey != "" {
		h.Set("x-api-key", s.APIKey.Value())
	}
	if len(s.Beta) > 0 {
		h.Set("anthropic-beta", strings.Join(s.Beta, ","))
	}
	for k, v := range s.Headers {
		h.Set(k, v.Value())
	}
	return &Provider{
		name:      opts.Name,
		base:      strings.TrimRight(base, "/"),
		maxTokens: cmp.Or(s.DefaultMaxTokens, DefaultMaxTokens),
		send:      provider.NewSender(opts, h, s.MaxIdleConns, s.HTTP2 && strings.HasPrefix(base, "http://")),
	}, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Info says the provider speaks the Anthropic dialect and what max_tokens to
// send when a request has none.
func (p *Provider) Info() provider.Info {
	return provider.Info{Dialect: provider.Anthropic, DefaultMaxTokens: p.maxTokens}
}

// Do sends one call: chat to /messages, models to /models. Embeddings and
// Responses have no Anthropic counterpart; they fail with
// errors.ErrUnsupported and send nothing.
func (p *Provider) Do(ctx context.Context, c *provider.Call) (*http.Response, error) {
	switch c.Endpoint {
	case provider.ChatCompletions:
		return p.send.Send(ctx, p.base+"/messages", c)
	case provider.Models:
		return p.send.Send(ctx, p.base+"/models", c)
	}
	return nil, fmt.Errorf("anthropic: %s is not supported: %w", c.Endpoint, errors.ErrUnsupported)
}

// Close drops idle connections.
func (p *Provider) Close() error {
	p.send.Close()
	return nil
}
