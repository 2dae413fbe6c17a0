package registry_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/registry"
)

// kindsConfig has one entry of each kind, as docs/providers.md shows them.
const kindsConfig = `
listen: 127.0.0.1:8080
providers:
  - name: openai
    type: openai
    base_url: https://api.openai.com/v1
    api_key: sk-test
  - name: claude
    type: anthropic
    api_key: sk-ant-test
    beta: [prompt-caching-2024-07-31]
    default_max_tokens: 8192
  - name: azure
    type: azure_openai
    endpoint: https://my-resource.openai.azure.com
    api_version: "2024-10-21"
    api_key: azure-test
  - name: azure-v1
    type: azure_openai
    endpoint: https://my-resource.openai.azure.com
    v1: true
  - name: sim
    type: sim
    dialect: anthropic
    latency: 10ms
routes:
  - model: chat
    targets:
      - {provider: openai, model: gpt-4o}
      - {provider: claude, model: claude-sonnet-4-5}
      - {provider: azure, model: gpt-4o-prod}
      - {provider: azure-v1, model: gpt-4o}
      - {provider: sim, model: sim-chat}
`

func TestTypes(t *testing.T) {
	t.Parallel()
	if got, want := registry.Types(), []string{"anthropic", "azure_openai", "openai", "sim"}; !slices.Equal(got, want) {
		t.Fatalf("Types() = %q, want %q", got, want)
	}
}

// TestEveryKind decodes one entry of each kind through config and builds it.
func TestEveryKind(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(kindsConfig), registry.Specs())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]provider.Info{
		"openai":   {Dialect: provider.OpenAI},
		"claude":   {Dialect: provider.Anthropic, DefaultMaxTokens: 8192},
		"azure":    {Dialect: provider.OpenAI},
		"azure-v1": {Dialect: provider.OpenAI},
		"sim":      {Dialect: provider.Anthropic, DefaultMaxTokens: 4096},
	}
	for _, pc := range cfg.Providers {
		p, err := registry.New(pc, cfg.Timeouts.Connect)
		if err != nil {
			t.Errorf("%s: %v", pc.Name, err)
			continue
		}
		if p.Name() != pc.Name || p.Info() != want[pc.Name] {
			t.Errorf("%s: Name() %q, Info() %+v, want %+v", pc.Name, p.Name(), p.Info(), want[pc.Name])
		}
		if err := p.Close(); err != nil {
			t.Errorf("%s: Close: %v", pc.Name, err)
		}
	}
	if len(cfg.Providers) != len(want) {
		t.Errorf("%d providers, want %d", len(cfg.Providers), len(want))
	}
}

// TestProblemPaths: each kind's problems come out under its entry.
func TestProblemPaths(t *testing.T) {
	t.Parallel()
	const bad = `
listen: 127.0.0.1:8080
providers:
  - {name: claude, type: anthropic, base_url: "api.anthropic.com", default_max_tokens: -1}
  - {name: azure, type: azure_openai, endpoint: "https://r.openai.azure.com/openai"}
  - {name: sim, type: sim, dialect: gemini}
routes:
  - model: chat
    targets: [{provider: claude, model: c}, {provider: azure, model: a}, {provider: sim, model: s}]
`
	_, err := config.Parse([]byte(bad), registry.Specs())
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v, want a *config.Error", err)
	}
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.Path)
	}
	slices.Sort(got)
	want := []string{
		"providers[0].base_url", "providers[0].default_max_tokens",
		"providers[1].api_version", "providers[1].endpoint",
		"providers[2].dialect",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems at %q, want %q:\n%v", got, want, err)
	}
}

func TestNewUnknownType(t *testing.T) {
	t.Parallel()
	if _, err := registry.New(config.Provider{Name: "x", Type: "acme"}, 0); err == nil {
		t.Fatal("New with an unknown type succeeded")
	}
}

// TestDocsExamples: every provider entry docs/providers.md shows decodes,
// validates and builds, and together they cover every kind.
func TestDocsExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:8080\nproviders:\n")
	for _, m := range blocks {
		for line := range strings.Lines(string(m[1])) {
			b.WriteString("  " + line)
		}
	}
	// The examples take their secrets from the environment.
	yml := regexp.MustCompile(`\$\{[A-Z_]+\}`).ReplaceAllString(b.String(), "secret")
	names := regexp.MustCompile(`(?m)^  - name: (\S+)`).FindAllStringSubmatch(yml, -1)
	yml += "routes:\n  - model: chat\n    targets:\n"
	for _, n := range names {
		yml += fmt.Sprintf("      - {provider: %s, model: m}\n", n[1])
	}
	cfg, err := config.Parse([]byte(yml), registry.Specs())
	if err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	types := map[string]bool{}
	for _, pc := range cfg.Providers {
		types[pc.Type] = true
		p, err := registry.New(pc, cfg.Timeouts.Connect)
		if err != nil {
			t.Errorf("%s: %v", pc.Name, err)
			continue
		}
		if err := p.Close(); err != nil {
			t.Errorf("%s: Close: %v", pc.Name, err)
		}
	}
	for _, typ := range registry.Types() {
		if !types[typ] {
			t.Errorf("docs/providers.md has no example of type %s", typ)
		}
	}
}
