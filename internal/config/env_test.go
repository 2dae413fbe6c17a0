package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	e := env{"A": "alpha", "EMPTY": "", "DOLLAR": "$B"}
	tests := []struct {
		in, want string
		unset    []string
		err      error
	}{
		{in: "${A}", want: "alpha"},
		{in: "x${A}y${A}z", want: "xalphayalphaz"},
		{in: "${A:-d}", want: "alpha"},
		{in: "${UNSET:-d}", want: "d"},
		{in: "${EMPTY:-d}", want: "d"},
		{in: "${EMPTY}", want: ""},
		{in: "${UNSET:-}", want: ""},
		{in: "${UNSET:-a:-b}", want: "a:-b"},
		{in: "${UNSET}", want: "", unset: []string{"UNSET"}},
		{in: "http://${H}:${P}/", want: "http://:/", unset: []string{"H", "P"}},
		{in: "$$", want: "$"},
		{in: "$${A}", want: "${A}"},
		{in: "pa$word", want: "pa$word"},
		{in: "cost: 5$", want: "cost: 5$"},
		{in: "$A", want: "$A"},
		{in: "${DOLLAR}", want: "$B"}, // values are not expanded again
		{in: "${A", err: errUnterminated},
		{in: "${}", err: errBadReference},
		{in: "${1A}", err: errBadReference},
		{in: "${A B}", err: errBadReference},
		{in: "${A-d}", err: errBadReference},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, unset, err := expand(tt.in, e.lookup)
			if !errors.Is(err, tt.err) || got != tt.want || !reflect.DeepEqual(unset, tt.unset) {
				t.Errorf("expand(%q) = %q, %q, %v; want %q, %q, %v", tt.in, got, unset, err, tt.want, tt.unset, tt.err)
			}
		})
	}
}

func TestEnvExpansionInParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  env
		get  func(*Config) any
		want any
	}{
		{
			name: "plain scalars are typed after expansion",
			yaml: "limits:\n  max_in_flight: ${N}\nlog:\n  bodies: ${B}\n",
			env:  env{"N": "7", "B": "true"},
			get:  func(c *Config) any { return fmt.Sprint(c.Limits.MaxInFlight, c.Log.Bodies) },
			want: "7 true",
		},
		{
			name: "a value cannot inject YAML",
			yaml: "admin:\n  token: ${T}\n",
			env:  env{"T": "a # b\nlisten: 0.0.0.0:1\nc: {d: e}"},
			get:  func(c *Config) any { return c.Admin.Token.Value() + "|" + c.Listen },
			want: "a # b\nlisten: 0.0.0.0:1\nc: {d: e}|127.0.0.1:8080",
		},
		{
			name: "a secret that reads as null stays a string",
			yaml: "admin:\n  token: ${T}\n",
			env:  env{"T": "~"},
			get:  func(c *Config) any { return c.Admin.Token.Value() },
			want: "~",
		},
		{
			name: "quoted and block scalars stay strings",
			yaml: "admin:\n  token: \"${T}\"\n  url: |-\n    http://${T}\n",
			env:  env{"T": "123"},
			get:  func(c *Config) any { return c.Admin.Token.Value() + " " + c.Admin.URL },
			want: "123 http://123",
		},
		{
			name: "comments and keys are not expanded",
			yaml: "# ${NOT_SET} in a comment\nadmin:\n  url: http://x # ${NOT_SET}\n",
			get:  func(c *Config) any { return c.Admin.URL },
			want: "http://x",
		},
		{
			name: "an aliased value is expanded once",
			yaml: "admin:\n  token: &t $${T}\ndata_dir: *t\n",
			env:  env{"T": "wrong"},
			get:  func(c *Config) any { return c.Admin.Token.Value() + " " + c.DataDir },
			want: "${T} ${T}",
		},
		{
			name: "map values are expanded",
			yaml: "providers:\n  - name: p\n    type: openai\n    base_url: http://x\n    headers:\n      X-Key: ${K}\n",
			env:  env{"K": "v"},
			get:  func(c *Config) any { return c.Providers[1].Spec.(*httpSpec).Headers["X-Key"] },
			want: "v",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := minimal + tt.yaml
			if strings.HasPrefix(tt.yaml, "providers:") {
				// Extend minimal's providers list instead of repeating the key.
				doc = strings.Replace(minimal, "routes:", strings.TrimPrefix(tt.yaml, "providers:\n")+"routes:", 1)
			}
			c, err := parse([]byte(doc), testKinds, tt.env.lookup)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
