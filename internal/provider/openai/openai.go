// Package openai is the provider kind for OpenAI and every server that speaks
// its API (vLLM, Ollama, LM Studio, Together, Groq, OpenRouter, …).
package openai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
)

// Spec is the `type: openai` provider's own options.
type Spec struct {
	// BaseURL ends before the endpoint, e.g. https://api.openai.com/v1.
	BaseURL      string        `yaml:"base_url"`
	APIKey       config.Secret `yaml:"api_key"`
	Organization string        `yaml:"organization"`
	Project      string        `yaml:"project"`
	// Headers are sent with every call. Values are secrets: gateways often
	// carry credentials in them (api-key, x-api-key, helicone-auth).
	Headers map[string]config.Secret `yaml:"headers"`
	// MaxIdleConns is how many idle keep-alive connections to keep to this
	// provider; the default suits a few thousand requests per second.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// HTTP2 sends streams over HTTP/2 without TLS (prior knowledge, h2c) to
	// an http:// base_url, so thousands of open streams share a few
	// connections. Short calls keep HTTP/1.1 keep-alive connections, which
	// cost less CPU per call. Only for servers that accept h2c (Envoy, an
	// h2c-capable inference server, relais's bench upstream); https:// base
	// URLs negotiate HTTP/2 on their own.
	HTTP2 bool `yaml:"http2"`
}

var _ config.ProviderSpec = (*Spec)(nil)

// Validate checks the options.
func (s *Spec) Validate() []config.Problem {
	var ps []config.Problem
	if s.BaseURL == "" {
		ps = append(ps, config.Problem{Path: "base_url", Message: "is required (for example https://api.openai.com/v1)"})
	} else if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		ps = append(ps, config.Problem{Path: "base_url", Message: fmt.Sprintf("%q is not an http(s) URL", s.BaseURL)})
	}
	for _, f := range []struct {
		path, v string
	}{{"api_key", s.APIKey.Value()}, {"organization", s.Organization}, {"project", s.Project}} {
		if !httpguts.ValidHeaderFieldValue(f.v) {
			ps = append(ps, config.Problem{Path: f.path, Message: provider.BadHeaderValue})
		}
	}
	ps = append(ps, provider.ValidateHeaders(s.Headers)...)
	if s.MaxIdleConns < 0 {
		ps = append(ps, config.Problem{Path: "max_idle_conns", Message: "must not be negative"})
	}
	return ps
}

// Provider sends OpenAI-shaped calls to one base URL.
type Provider struct {
	name string
	base string
	send *provider.Sender
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider from its spec.
func New(opts provider.Options, s *Spec) (*Provider, error) {
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	if s.APIKey != "" {
		h.Set("Authorization", "Bearer "+s.APIKey.Value())
	}
	if s.Organization != "" {
		h.Set("OpenAI-Organization", s.Organization)
	}
	if s.Project != "" {
		h.Set("OpenAI-Project", s.Project)
	}
	for k, v := range s.Headers {
		h.Set(k, v.Value())
	}
	return &Provider{
		name: opts.Name,
		base: strings.TrimRight(s.BaseURL, "/"),
		send: provider.NewSender(opts, h, s.MaxIdleConns, s.HTTP2 && strings.HasPrefix(s.BaseURL, "http://")),
	}, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Info says the provider speaks the OpenAI dialect.
func (p *Provider) Info() provider.Info { return provider.Info{Dialect: provider.OpenAI} }

// Do sends one call.
func (p *Provider) Do(ctx context.Context, c *provider.Call) (*http.Response, error) {
	return p.send.Send(ctx, p.base+c.Endpoint.Path(), c)
}

// Close drops idle connections.
func (p *Provider) Close() error {
	p.send.Close()
	return nil
}
