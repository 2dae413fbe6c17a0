// Package openai is the provider kind for OpenAI and every server that speaks
// its API (vLLM, Ollama, LM Studio, Together, Groq, OpenRouter, …).
package openai

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

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
			ps = append(ps, config.Problem{Path: f.path, Message: "contains characters that cannot be sent in an HTTP header (a trailing newline?)"})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Headers)) {
		if !httpguts.ValidHeaderFieldName(k) {
			ps = append(ps, config.Problem{Path: "headers", Message: fmt.Sprintf("%q is not a valid header name", k)})
		} else if !httpguts.ValidHeaderFieldValue(s.Headers[k].Value()) {
			ps = append(ps, config.Problem{Path: "headers." + k, Message: "contains characters that cannot be sent in an HTTP header (a trailing newline?)"})
		}
	}
	if s.MaxIdleConns < 0 {
		ps = append(ps, config.Problem{Path: "max_idle_conns", Message: "must not be negative"})
	}
	return ps
}

// Provider sends OpenAI-shaped calls to one base URL.
type Provider struct {
	name   string
	base   string
	header http.Header
	// rt sends calls as they are: a gateway must not follow redirects or keep
	// cookies, and skipping http.Client keeps a stream's goroutine stack small.
	rt *http.Transport
	// streams is rt, or an h2c transport when the spec asks for HTTP/2.
	streams *http.Transport
}

var _ provider.Provider = (*Provider)(nil)

// NewTransport returns the HTTP transport relais uses towards a provider: keep-alive
// connections sized for a gateway, HTTP/2 when the server offers it, bounded dial
// and TLS handshake, and no response header timeout (the gateway enforces its own
// per-attempt timeouts, which differ between streams and plain calls).
func NewTransport(connect time.Duration, maxIdle int) *http.Transport {
	if connect <= 0 {
		connect = 3 * time.Second
	}
	if maxIdle <= 0 {
		maxIdle = 512
	}
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		// Compression would make relais decode and re-encode streams.
		DisableCompression: true,
	}
}

// h2cTransport is a transport that speaks HTTP/2 by prior knowledge to
// http:// URLs (and negotiates it for https://).
func h2cTransport(connect time.Duration, maxIdle int) *http.Transport {
	t := NewTransport(connect, maxIdle)
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP2(true)
	t.Protocols.SetUnencryptedHTTP2(true)
	return t
}

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
	p := &Provider{
		name:   opts.Name,
		base:   strings.TrimRight(s.BaseURL, "/"),
		header: h,
		rt:     NewTransport(opts.ConnectTimeout, s.MaxIdleConns),
	}
	p.streams = p.rt
	if s.HTTP2 && strings.HasPrefix(s.BaseURL, "http://") {
		p.streams = h2cTransport(opts.ConnectTimeout, s.MaxIdleConns)
	}
	return p, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Info says the provider speaks the OpenAI dialect.
func (p *Provider) Info() provider.Info { return provider.Info{Dialect: provider.OpenAI} }

// Do sends one call.
func (p *Provider) Do(ctx context.Context, c *provider.Call) (*http.Response, error) {
	method, body := http.MethodPost, io.Reader(bytes.NewReader(c.Body))
	if c.Endpoint == provider.Models {
		method, body = http.MethodGet, http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+c.Endpoint.Path(), body)
	if err != nil {
		return nil, err
	}
	req.Header = p.header.Clone()
	if c.Stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.RequestID != "" {
		req.Header.Set("X-Request-Id", c.RequestID)
	}
	if c.Stream {
		return p.streams.RoundTrip(req)
	}
	return p.rt.RoundTrip(req)
}

// Close drops idle connections.
func (p *Provider) Close() error {
	p.rt.CloseIdleConnections()
	p.streams.CloseIdleConnections()
	return nil
}
