package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// richSpec exercises every shape the strict decoder walks: inline and
// pointer structs, lists and maps of structs, untagged and unexported
// fields, and leaves that yaml.v3 decodes whole.
type richSpec struct {
	zoneSpec `yaml:",inline"`
	Retry    *Retries          `yaml:"retry"`
	Pools    []pool            `yaml:"pools"`
	Regions  map[string]region `yaml:"regions"`
	Max      *int              `yaml:"max"`
	Size     ByteSize          // untagged: yaml.v3 calls it "size"
	Raw      yaml.Node         `yaml:"raw"`
	Extra    any               `yaml:"extra"`
	hidden   string
}

type zoneSpec struct {
	Zone string `yaml:"zone"`
}

type pool struct {
	Name string `yaml:"name"`
	Size int    `yaml:"size"`
}

type region struct {
	URL string `yaml:"url"`
}

func (*richSpec) Validate() []Problem { return nil }

// valueSpec is a registry bug: a kind whose options are not a pointer.
type valueSpec struct{}

func (valueSpec) Validate() []Problem { return nil }

var richKinds = map[string]func() ProviderSpec{
	"rich":   func() ProviderSpec { return new(richSpec) },
	"broken": func() ProviderSpec { return valueSpec{} },
}

// richDoc puts a providers list, then a route to its first entry.
func richDoc(providers string) string {
	return "listen: 127.0.0.1:8080\nproviders:\n" + providers + "routes: [{model: m, targets: [{provider: p, model: m}]}]\n"
}

func TestDecodeRichSpec(t *testing.T) {
	t.Parallel()
	doc := richDoc(`  - name: p
    type: rich
    zone: eu
    retry: {attempts: 4, backoff: 1s}
    pools: [{name: a, size: 2}, {name: b}]
    regions:
      eu-west: {url: "https://eu"}
      "a.b": {url: "https://ab"}
    max: 9
    size: 1KiB
    raw: {any: [thing]}
    extra: [1, two]
`)
	c, err := parse([]byte(doc), richKinds, env{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Providers[0].Spec.(*richSpec)
	nine := 9
	want := &richSpec{
		zoneSpec: zoneSpec{Zone: "eu"},
		Retry:    &Retries{Attempts: 4, Backoff: secs(1)},
		Pools:    []pool{{Name: "a", Size: 2}, {Name: "b"}},
		Regions:  map[string]region{"eu-west": {URL: "https://eu"}, "a.b": {URL: "https://ab"}},
		Max:      &nine,
		Size:     1024,
		Extra:    []any{1, "two"},
	}
	if got.Raw.Kind != yaml.MappingNode {
		t.Errorf("raw = %v, want the mapping node", got.Raw.Kind)
	}
	got.Raw = yaml.Node{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("spec\n got: %+v\nwant: %+v", got, want)
	}
}

func TestDecodeRichSpecProblems(t *testing.T) {
	t.Parallel()
	doc := richDoc(`  - name: p
    type: rich
    zon: eu
    retry: {attemps: 4}
    pools: [{name: a, sise: 2}, x]
    regions:
      eu-west: {ulr: "https://eu"}
      "a.b": {url: [x]}
    max: many
    hidden: x
    ? [complex]
    : key
  - name: q
    type: broken
`)
	_, err := parse([]byte(doc), richKinds, env{}.lookup)
	want := []string{
		`providers[0].zon: unknown field (did you mean "zone"?) (line 5)`,
		`providers[0].retry.attemps: unknown field (did you mean "attempts"?) (line 6)`,
		`providers[0].pools[0].sise: unknown field (did you mean "size"?) (line 7)`,
		`providers[0].pools[1]: want a mapping, got "x" (line 7)`,
		`providers[0].regions.eu-west.ulr: unknown field (did you mean "url"?) (line 9)`,
		`providers[0].regions["a.b"].url: want a string, got a list (line 10)`,
		`providers[0].max: want an integer, got "many" (line 11)`,
		`providers[0].hidden: unknown field (known fields: zone, retry, pools, regions, max, size, raw, extra, name, type, passthrough) (line 12)`,
		`providers[0]: mapping keys must be strings, got a list (line 13)`,
		`providers[1].type: provider type "broken" has no options struct (want a pointer to a struct, got config.valueSpec) (line 16)`,
	}
	if got := problemStrings(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got: %s\nwant: %s", quoteLines(got), quoteLines(want))
	}
}

func TestNoKindsRegistered(t *testing.T) {
	t.Parallel()
	_, err := parse([]byte(minimal), nil, env{}.lookup)
	want := []string{`providers[0].type: unknown provider type "openai" (no provider types are registered) (line 3)`}
	if got := problemStrings(t, err); !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got: %s\nwant: %s", quoteLines(got), quoteLines(want))
	}
}

// TestLargeConfigWithoutAliases checks the alias limit scales with the file:
// a big config is not refused for its size.
func TestLargeConfigWithoutAliases(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:8080\nproviders: [{name: p, type: sim}]\nroutes:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "  - model: m%d\n    targets:\n      - {provider: p, model: a, capabilities: [tools, vision]}\n      - {provider: p, model: b, weight: 2}\n", i)
	}
	c, err := parse([]byte(b.String()), testKinds, env{}.lookup)
	if err != nil {
		t.Fatalf("parse: %.300v", err)
	}
	if len(c.Routes) != 3000 {
		t.Errorf("%d routes, want 3000", len(c.Routes))
	}
}

func TestSecretRedacts(t *testing.T) {
	t.Parallel()
	const v = "sk-do-not-print"
	s := Secret(v)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", s)
	js, _ := json.Marshal(struct{ K Secret }{s})
	ym, _ := yaml.Marshal(struct{ K Secret }{s})
	out := fmt.Sprint(s) + fmt.Sprintf("%v %+v %#v %s", s, s, s, s) + logged.String() + string(js) + string(ym)
	if strings.Contains(out, v) {
		t.Errorf("secret printed: %s", out)
	}
	if s.Value() != v {
		t.Errorf("Value() = %q", s.Value())
	}
}
