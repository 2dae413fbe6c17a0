// Package azure is the provider kind for Azure OpenAI (`type: azure_openai`).
// Azure speaks the OpenAI dialect, so bodies and answers cross unchanged; what
// differs is where calls go and how they authenticate. The classic routes name
// a deployment in the path and an API version in the query; the newer
// /openai/v1/ routes (`v1: true`) take the model in the body, like OpenAI.
package azure

import (
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

// Spec is the `type: azure_openai` provider's own options.
type Spec struct {
	// Endpoint is the resource's endpoint, e.g.
	// https://my-resource.openai.azure.com; relais adds /openai/….
	Endpoint string `yaml:"endpoint"`
	// APIVersion is the api-version of the classic routes, e.g. 2024-10-21.
	APIVersion string `yaml:"api_version"`
	// APIKey is sent as the api-key header. For Microsoft Entra ID, leave it
	// out and set an Authorization header instead.
	APIKey config.Secret `yaml:"api_key"`
	// Headers are sent with every call and win over api-key.
	Headers map[string]config.Secret `yaml:"headers"`
	// MaxIdleConns is how many idle keep-alive connections to keep.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// HTTP2 sends streams over h2c to an http:// endpoint, as the openai
	// kind's option of the same name does.
	HTTP2 bool `yaml:"http2"`
	// V1 uses the /openai/v1/ routes: the model in the body names the
	// deployment, and there is no api-version.
	V1 bool `yaml:"v1"`
}

var _ config.ProviderSpec = (*Spec)(nil)

// Validate checks the options.
func (s *Spec) Validate() []config.Problem {
	var ps []config.Problem
	add := func(path, msg string) { ps = append(ps, config.Problem{Path: path, Message: msg}) }
	if s.Endpoint == "" {
		add("endpoint", "is required (for example https://my-resource.openai.azure.com)")
	} else if u, err := url.Parse(s.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("endpoint", fmt.Sprintf("%q is not an http(s) URL (for example https://my-resource.openai.azure.com)", s.Endpoint))
	} else if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		add("endpoint", "must not have a query or fragment: relais adds api-version itself")
	} else if p := strings.TrimRight(u.Path, "/"); strings.HasSuffix(p, "/openai") || strings.Contains(p, "/openai/") {
		add("endpoint", fmt.Sprintf("%q already has an /openai path: give the resource endpoint alone (https://my-resource.openai.azure.com); relais adds the routes", s.Endpoint))
	}
	switch {
	case s.V1 && s.APIVersion != "":
		add("api_version", "applies only without v1: the /openai/v1/ routes take no api-version")
	case !s.V1 && s.APIVersion == "":
		add("api_version", "is required (for example 2024-10-21), or set v1: true for the /openai/v1/ routes")
	case strings.ContainsFunc(s.APIVersion, notVersionRune):
		add("api_version", fmt.Sprintf("%q is not an API version (for example 2024-10-21 or 2025-04-01-preview)", s.APIVersion))
	}
	if !httpguts.ValidHeaderFieldValue(s.APIKey.Value()) {
		add("api_key", provider.BadHeaderValue)
	}
	ps = append(ps, provider.ValidateHeaders(s.Headers)...)
	if s.MaxIdleConns < 0 {
		add("max_idle_conns", "must not be negative")
	}
	return ps
}

// notVersionRune reports a character no API version has (they look like
// 2024-10-21 or 2025-04-01-preview); it would also need escaping in the query.
func notVersionRune(r rune) bool {
	return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.')
}

// Provider sends OpenAI-shaped calls to one Azure OpenAI resource.
type Provider struct {
	name string
	// root is the endpoint followed by /openai (classic) or /openai/v1.
	root string
	// query is "?api-version=…" on the classic routes, "" on v1.
	query string
	v1    bool
	send  *provider.Sender
}

var _ provider.Provider = (*Provider)(nil)

// New builds a provider from its spec.
func New(opts provider.Options, s *Spec) (*Provider, error) {
	h := make(http.Header)
	h.Set("Content-Type", "application/json")
	if s.APIKey != "" {
		h.Set("api-key", s.APIKey.Value())
	}
	for k, v := range s.Headers {
		h.Set(k, v.Value())
	}
	p := &Provider{
		name: opts.Name,
		root: strings.TrimRight(s.Endpoint, "/") + "/openai",
		v1:   s.V1,
		send: provider.NewSender(opts, h, s.MaxIdleConns, s.HTTP2 && strings.HasPrefix(s.Endpoint, "http://")),
	}
	if s.V1 {
		p.root += "/v1"
	} else {
		p.query = "?api-version=" + url.QueryEscape(s.APIVersion)
	}
	return p, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

// Info says the provider speaks the OpenAI dialect.
func (p *Provider) Info() provider.Info { return provider.Info{Dialect: provider.OpenAI} }

// errNoDeployment is returned when a classic-route call has no model: the
// model is the deployment's name, and the URL cannot be built without it.
var errNoDeployment = errors.New("azure_openai: the target has no model, which names the deployment")

// url returns where the call goes.
func (p *Provider) url(c *provider.Call) (string, error) {
	if c.Endpoint.Path() == "" {
		return "", fmt.Errorf("azure_openai: %s is not supported: %w", c.Endpoint, errors.ErrUnsupported)
	}
	if p.v1 {
		return p.root + c.Endpoint.Path(), nil
	}
	switch c.Endpoint {
	case provider.ChatCompletions, provider.Embeddings:
		if c.Model == "" {
			return "", errNoDeployment
		}
		return p.root + "/deployments/" + url.PathEscape(c.Model) + c.Endpoint.Path() + p.query, nil
	}
	return p.root + c.Endpoint.Path() + p.query, nil
}

// Do sends one call.
func (p *Provider) Do(ctx context.Context, c *provider.Call) (*http.Response, error) {
	u, err := p.url(c)
	if err != nil {
		return nil, err
	}
	return p.send.Send(ctx, u, c)
}

// Close drops idle connections.
func (p *Provider) Close() error {
	p.send.Close()
	return nil
}
