package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// httpSpec and simSpec stand in for the real provider kinds, whose packages
// import config and so cannot be imported here.
type httpSpec struct {
	BaseURL      string            `yaml:"base_url"`
	APIKey       Secret            `yaml:"api_key"`
	Headers      map[string]string `yaml:"headers"`
	MaxIdleConns int               `yaml:"max_idle_conns"`
}

func (s *httpSpec) Validate() []Problem {
	var ps []Problem
	if s.BaseURL == "" {
		ps = append(ps, Problem{Path: "base_url", Message: "is required"})
	}
	if s.MaxIdleConns < 0 {
		ps = append(ps, Problem{Path: "max_idle_conns", Message: "must not be negative"})
	}
	return ps
}

type simSpec struct {
	Latency   Duration `yaml:"latency"`
	Jitter    Duration `yaml:"jitter"`
	ErrorRate float64  `yaml:"error_rate"`
}

func (s *simSpec) Validate() []Problem {
	if s.ErrorRate < 0 || s.ErrorRate > 1 {
		return []Problem{{Path: "error_rate", Message: "must be between 0 and 1"}}
	}
	return nil
}

var testKinds = map[string]func() ProviderSpec{
	"openai": func() ProviderSpec { return new(httpSpec) },
	"sim":    func() ProviderSpec { return new(simSpec) },
}

// env is a fake environment for parse, so tests can run in parallel.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

var fullEnv = env{
	"ADMIN_TOKEN":    "admin-secret-0123",
	"TEAM_A_KEY":     "sk-team-a-secret",
	"OPENAI_API_KEY": "sk-openai-secret",
}

func readFull(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func secs(n float64) Duration { return Duration(n * float64(time.Second)) }

func TestParseFullExample(t *testing.T) {
	t.Parallel()
	got, err := parse(readFull(t), testKinds, fullEnv.lookup)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	gpt4o := Target{
		Provider: "openai", Model: "gpt-4o-2024-08-06", Weight: 1,
		Capabilities: []string{"tools", "vision", "json_schema"}, MaxContext: 128000,
	}
	want := &Config{
		Listen:          "0.0.0.0:8080",
		Admin:           Admin{Listen: "127.0.0.1:9090", Token: "admin-secret-0123"},
		DataDir:         "/var/lib/relais",
		Log:             Log{Level: "debug", Format: "text", Bodies: true},
		MaxBodySize:     4 << 20,
		ShutdownTimeout: secs(45),
		Keys: []Key{
			{Name: "team-a", Key: "sk-team-a-secret", RPM: 600, TPM: 100000, Routes: []string{"gpt-4o", "fast"}},
			{Name: "ci", KeySHA256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"},
		},
		Providers: []Provider{
			{Name: "openai", Type: "openai", Spec: &httpSpec{
				BaseURL: "https://api.openai.com/v1", APIKey: "sk-openai-secret", Headers: map[string]string{"X-Team": "relais"},
			}},
			{Name: "local", Type: "openai", Passthrough: true, Spec: &httpSpec{BaseURL: "http://127.0.0.1:11434/v1"}},
			{Name: "sim", Type: "sim", Spec: &simSpec{Latency: secs(0.25), Jitter: secs(0.05), ErrorRate: 0.01}},
		},
		Routes: []Route{
			{Model: "gpt-4o", Strategy: "priority", Targets: []Target{gpt4o, {Provider: "local", Model: "llama3.1:70b", Weight: 1}}},
			{Model: "fast", Strategy: "weighted", Targets: []Target{
				{Provider: "sim", Model: "sim-small", Weight: 3},
				{Provider: "local", Model: "llama3.1:8b", Weight: 0},
				gpt4o,
			}},
			{Model: "meta-llama/Llama-3.1-8B", Strategy: "least_latency", Targets: []Target{{Provider: "local", Model: "llama3.1:8b", Weight: 1}}},
		},
		Limits:   Limits{MaxInFlight: 256, Queue: 0, QueueTimeout: secs(2)},
		Timeouts: Timeouts{Request: secs(90), Attempt: secs(45), Connect: secs(2), Header: secs(10), FirstToken: secs(8), Idle: secs(20)},
		Retries:  Retries{Attempts: 3, Backoff: secs(0.2), MaxBackoff: secs(1), MaxRetryAfter: secs(5)},
		Breaker:  Breaker{FailureRatio: 0.25, MinRequests: 20, Window: secs(60), OpenFor: secs(30)},
		Prices: []Price{
			{Provider: "openai", Model: "gpt-4o-2024-08-06", Input: 2.5, Output: 10},
			{Model: "llama3.1:70b"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parse mismatch\n got: %#v\nwant: %#v", got, want)
	}
	if ps := got.Validate(); len(ps) != 0 {
		t.Errorf("Validate on a parsed config = %v, want none", ps)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "relais.yaml")
	if err := os.WriteFile(path, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, testKinds)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Listen != "127.0.0.1:8080" || len(c.Routes) != 1 {
		t.Errorf("Load = %+v", c)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"), testKinds)
	var cfgErr *Error
	if !errors.Is(err, os.ErrNotExist) || errors.As(err, &cfgErr) {
		t.Errorf("Load(missing) = %v, want a not-exist error that is not a config *Error", err)
	}

	if err := os.WriteFile(path, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, testKinds); !errors.As(err, &cfgErr) {
		t.Errorf("Load(broken) = %v, want *Error", err)
	}
}

// TestParseUsesProcessEnvironment checks the one path tests do not fake; it
// cannot run in parallel because of t.Setenv.
func TestParseUsesProcessEnvironment(t *testing.T) {
	t.Setenv("RELAIS_TEST_LISTEN", "127.0.0.1:18080")
	c, err := Parse([]byte(strings.Replace(minimal, "127.0.0.1:8080", "${RELAIS_TEST_LISTEN}", 1)), testKinds)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:18080" {
		t.Errorf("Listen = %q, want the environment's", c.Listen)
	}
}

// minimal is the smallest valid config; cases build on it. Keep its line
// count in mind: text appended to it starts at line 7.
const minimal = `listen: 127.0.0.1:8080
providers:
  - {name: openai, type: openai, base_url: "https://api.openai.com/v1"}
routes:
  - model: gpt
    targets: [{provider: openai, model: gpt-4o}]
`

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := parse([]byte(minimal), testKinds, env{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:          "127.0.0.1:8080",
		Admin:           Admin{Listen: "127.0.0.1:9090"},
		DataDir:         "./data",
		Log:             Log{Level: "info", Format: "json"},
		MaxBodySize:     10 << 20,
		ShutdownTimeout: secs(30),
		Providers:       c.Providers,
		Routes:          []Route{{Model: "gpt", Strategy: "priority", Targets: []Target{{Provider: "openai", Model: "gpt-4o", Weight: 1}}}},
		Limits:          Limits{MaxInFlight: 512, Queue: 256, QueueTimeout: secs(2)},
		Timeouts:        Timeouts{Request: secs(120), Attempt: secs(60), Connect: secs(3), Header: secs(15), FirstToken: secs(10), Idle: secs(30)},
		Retries:         Retries{Attempts: 2, Backoff: secs(0.1), MaxBackoff: secs(2), MaxRetryAfter: secs(3)},
		Breaker:         Breaker{FailureRatio: 0.5, MinRequests: 10, Window: secs(30), OpenFor: secs(15)},
	}
	if !reflect.DeepEqual(*c, want) {
		t.Errorf("defaults\n got: %+v\nwant: %+v", *c, want)
	}

	// Defaults on a Config built in code gives the same values.
	var built Config
	built.Routes = []Route{{Model: "gpt", Targets: []Target{{Provider: "openai", Model: "gpt-4o"}}}}
	Defaults(&built)
	built.Listen, built.Providers = want.Listen, want.Providers
	if !reflect.DeepEqual(built, want) {
		t.Errorf("Defaults(built)\n got: %+v\nwant: %+v", built, want)
	}
}

func TestExplicitValuesBeatDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		get  func(*Config) any
		want any
	}{
		{"zero queue", "limits: {queue: 0}\n", func(c *Config) any { return c.Limits.Queue }, 0},
		{"zero weight", "  - model: w\n    strategy: weighted\n    targets: [{provider: openai, model: a, weight: 0}, {provider: openai, model: b}]\n",
			func(c *Config) any { return []int{c.Routes[1].Targets[0].Weight, c.Routes[1].Targets[1].Weight} }, []int{0, 1}},
		{"null keeps default", "limits: {queue: ~}\nretries:\n", func(c *Config) any { return []int{c.Limits.Queue, c.Retries.Attempts} }, []int{256, 2}},
		{"empty env keeps default", "data_dir: ${DATA_DIR:-}\n", func(c *Config) any { return c.DataDir }, "./data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parse([]byte(minimal+tt.yaml), testKinds, env{}.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  env
		want []string
	}{
		{
			name: "misspelt target field",
			yaml: `listen: 127.0.0.1:8080
providers:
  - {name: openai, type: openai, base_url: "https://api.openai.com/v1"}
routes:
  - model: gpt
    targets:
      - provider: openai
        model: gpt-4o
      - provider: openai
        modle: gpt-4o-mini
`,
			want: []string{`routes[0].targets[1].modle: unknown field (did you mean "model"?) (line 10)`},
		},
		{
			name: "unknown top-level key without a close match",
			yaml: minimal + "frobnicate: 1\n",
			want: []string{"frobnicate: unknown field (known fields: listen, allow_open, admin, data_dir, log, max_body_size, shutdown_timeout, keys, providers, routes, limits, timeouts, retries, breaker, prices) (line 7)"},
		},
		{
			name: "case and prefix suggestions",
			yaml: minimal + "Listen: x\nmax_body: 1MiB\n",
			want: []string{
				`Listen: unknown field (did you mean "listen"?) (line 7)`,
				`max_body: unknown field (did you mean "max_body_size"?) (line 8)`,
			},
		},
		{
			name: "type errors",
			yaml: minimal + `keys:
  - {name: a, key: k, rpm: lots}
breaker: {open_for: soon, failure_ratio: [1]}
max_body_size: huge
allow_open: maybe
routes_x: 1
`,
			want: []string{
				`keys[0].rpm: want an integer, got "lots" (line 8)`,
				`breaker.failure_ratio: want a number, got a list (line 9)`,
				`breaker.open_for: invalid duration "soon" (want a value such as "250ms", "30s" or "2m") (line 9)`,
				`max_body_size: invalid size "huge" (want a value such as "10MiB", "512KiB" or a number of bytes) (line 10)`,
				`allow_open: want true or false, got "maybe" (line 11)`,
				`routes_x: unknown field (did you mean "routes"?) (line 12)`,
			},
		},
		{
			name: "wrong shapes",
			yaml: `listen: 127.0.0.1:8080
providers: {name: openai}
routes:
  - model: gpt
    targets: {provider: openai}
log: text
`,
			want: []string{
				"providers: want a list, got a mapping (line 2)",
				"routes[0].targets: want a list, got a mapping (line 5)",
				`log: want a mapping, got "text" (line 6)`,
			},
		},
		{
			name: "provider types",
			yaml: `listen: 127.0.0.1:8080
providers:
  - {name: a, type: opnai, base_url: x}
  - {name: b, type: bedrock}
  - {name: c}
  - {name: d, typ: sim}
routes:
  - model: gpt
    targets: [{provider: a, model: m}]
`,
			want: []string{
				`providers[0].type: unknown provider type "opnai" (did you mean "openai"?) (line 3)`,
				`providers[1].type: unknown provider type "bedrock" (known types: openai, sim) (line 4)`,
				"providers[2].type: is required (one of: openai, sim) (line 5)",
				`providers[3].typ: unknown field (did you mean "type"?) (line 6)`,
			},
		},
		{
			name: "provider options decoded strictly",
			yaml: `listen: 127.0.0.1:8080
providers:
  - name: openai
    type: openai
    base_ur: https://api.openai.com/v1
    max_idle_conns: -1
    headers: {X-A: b}
  - name: sim
    type: sim
    latency: soon
    error_rate: 2
    nmae: x
routes:
  - model: gpt
    targets: [{provider: openai, model: gpt-4o}]
`,
			want: []string{
				`providers[0].base_ur: unknown field (did you mean "base_url"?) (line 5)`,
				"providers[0].max_idle_conns: must not be negative (line 6)",
				`providers[1].latency: invalid duration "soon" (want a value such as "250ms", "30s" or "2m") (line 10)`,
				"providers[1].error_rate: must be between 0 and 1 (line 11)",
				`providers[1].nmae: unknown field (did you mean "name"?) (line 12)`,
			},
		},
		{
			name: "references and duplicates",
			yaml: `listen: 127.0.0.1:8080
keys:
  - {name: a, key: k1, routes: [gtp, fast]}
  - {name: a, key: k2, routes: [nothing-like-it]}
providers:
  - {name: openai, type: openai, base_url: u}
  - {name: openai, type: sim}
routes:
  - model: gpt
    targets: [{provider: opnai, model: m}, {provider: zzz, model: m}]
  - model: gpt
    targets: [{provider: openai, model: m}, {provider: openai, model: m}]
prices:
  - {provider: opena, model: m, input_per_mtok: -1}
  - {model: m}
  - {model: m}
`,
			want: []string{
				`keys[0].routes[0]: unknown route "gtp" (did you mean "gpt"?) (line 3)`,
				`keys[0].routes[1]: unknown route "fast" (known routes: gpt) (line 3)`,
				`keys[1].name: duplicate name "a" (also at keys[0]) (line 4)`,
				`keys[1].routes[0]: unknown route "nothing-like-it" (known routes: gpt) (line 4)`,
				`providers[1].name: duplicate name "openai" (also at providers[0]) (line 7)`,
				`routes[0].targets[0].provider: unknown provider "opnai" (did you mean "openai"?) (line 10)`,
				`routes[0].targets[1].provider: unknown provider "zzz" (known providers: openai) (line 10)`,
				`routes[1].model: duplicate name "gpt" (also at routes[0]) (line 11)`,
				`routes[1].targets[1]: duplicate target openai/m (also at routes[1].targets[0]) (line 12)`,
				`prices[0].input_per_mtok: must be a number, 0 or more (USD per million tokens) (line 14)`,
				`prices[0].provider: unknown provider "opena" (did you mean "openai"?) (line 14)`,
				`prices[2].model: duplicate price for "m" (also at prices[1]) (line 16)`,
			},
		},
		{
			name: "routes and targets",
			yaml: `listen: 127.0.0.1:8080
providers:
  - {name: openai, type: openai, base_url: u}
routes:
  - model: a
  - model: b
    strategy: wieghted
    targets: [{provider: openai, model: m, weight: -1, max_context: -5, capabilities: [tools, vison, audio]}]
  - model: c
    strategy: weighted
    targets: [{provider: openai, model: m, weight: 0}]
  - model: openai/gpt-4o
    targets: [{provider: openai, model: gpt-4o}]
  - targets: [{}]
`,
			want: []string{
				"routes[0].targets: at least one target is required (line 5)",
				`routes[1].strategy: unknown strategy "wieghted" (did you mean "weighted"?) (line 7)`,
				`routes[1].targets[0].capabilities[1]: unknown capability "vison" (did you mean "vision"?) (line 8)`,
				`routes[1].targets[0].capabilities[2]: unknown capability "audio" (want tools, vision, json_schema or prefill) (line 8)`,
				"routes[1].targets[0].max_context: must not be negative (line 8)",
				"routes[1].targets[0].weight: must not be negative (line 8)",
				"routes[2].targets: the weighted strategy needs at least one target with weight above 0 (line 11)",
				`routes[3].model: "openai/gpt-4o" starts with the provider name "openai": "<provider>/<model>" names are reserved for passthrough; rename the route (line 12)`,
				"routes[4].model: is required (line 14)",
				"routes[4].targets[0].model: is required (line 14)",
				"routes[4].targets[0].provider: is required (line 14)",
			},
		},
		{
			name: "keys",
			yaml: minimal + `keys:
  - {key: k}
  - {name: b}
  - {name: c, key: k2, key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
  - {name: d, key_sha256: abc, rpm: -1, tpm: -2}
  - {name: e, key: test}
  - {name: f, key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
  - {name: g, key: k}
`,
			want: []string{
				"keys[0].name: is required (line 8)",
				"keys[1].key: is required (or key_sha256) (line 9)",
				"keys[2].key_sha256: set key or key_sha256, not both (line 10)",
				"keys[3].key_sha256: must be 64 hex characters (the SHA-256 of the key, as printed by sha256sum) (line 11)",
				"keys[3].rpm: must not be negative (line 11)",
				"keys[3].tpm: must not be negative (line 11)",
				"keys[5].key_sha256: same key as keys[4] (line 13)",
				"keys[6].key: same key as keys[0] (line 14)",
			},
		},
		{
			name: "bounds",
			yaml: minimal + `limits: {max_in_flight: 0, queue: -1, queue_timeout: -1s}
timeouts: {request: 10s, attempt: 11s, connect: 10s, header: 0, first_token: 20s, idle: -1s}
retries: {attempts: 11, backoff: 3s, max_backoff: 2s, max_retry_after: -1s}
breaker: {failure_ratio: 1.5, min_requests: 0, window: 0, open_for: 0s}
max_body_size: 0
shutdown_timeout: 0
`,
			want: []string{
				"limits.max_in_flight: must be at least 1 (line 7)",
				"limits.queue: must not be negative (line 7)",
				"limits.queue_timeout: must not be negative (line 7)",
				"timeouts.attempt: 11s must not be longer than timeouts.request (10s) (line 8)",
				"timeouts.connect: 10s must be shorter than timeouts.request (10s) (line 8)",
				"timeouts.first_token: 20s must not be longer than timeouts.request (10s) (line 8)",
				"timeouts.header: must be positive (line 8)",
				"timeouts.idle: must be positive (line 8)",
				"retries.attempts: must be at most 10 (line 9)",
				"retries.backoff: 3s must not be longer than retries.max_backoff (2s) (line 9)",
				"retries.max_retry_after: must not be negative (line 9)",
				"breaker.failure_ratio: must be above 0 and at most 1 (line 10)",
				"breaker.min_requests: must be at least 1 (line 10)",
				"breaker.open_for: must be positive (line 10)",
				"breaker.window: must be positive (line 10)",
				"max_body_size: must be positive (line 11)",
				"shutdown_timeout: must be positive (line 12)",
			},
		},
		{
			name: "more bounds",
			yaml: minimal + "limits: {queue: 5, queue_timeout: 0}\nretries: {attempts: 0}\nbreaker: {failure_ratio: .nan}\nlog: {level: verbose, format: xml}\ndata_dir: ''\n",
			want: []string{
				"limits.queue_timeout: must be positive when limits.queue is above 0 (line 7)",
				"retries.attempts: must be at least 1 (the first try counts) (line 8)",
				"breaker.failure_ratio: must be above 0 and at most 1 (line 9)",
				`log.format: unknown format "xml" (want json or text) (line 10)`,
				`log.level: unknown level "verbose" (want debug, info, warn or error) (line 10)`,
				"data_dir: is required (line 11)",
			},
		},
		{
			name: "open gateway on all interfaces",
			yaml: strings.Replace(minimal, "127.0.0.1:8080", `":8080"`, 1),
			want: []string{`listen: ":8080" listens on all interfaces and there are no client keys, so anyone who can reach it can use your providers at your cost: add keys, listen on "127.0.0.1:8080", or set allow_open: true (line 1)`},
		},
		{
			name: "open gateway on a public address",
			yaml: strings.Replace(minimal, "127.0.0.1:8080", "10.0.0.5:80", 1),
			want: []string{`listen: "10.0.0.5:80" is not a loopback address and there are no client keys, so anyone who can reach it can use your providers at your cost: add keys, listen on "127.0.0.1:80", or set allow_open: true (line 1)`},
		},
		{
			name: "allow_open, keys and loopback addresses are fine",
			yaml: strings.Replace(minimal, "127.0.0.1:8080", `"[::]:8080"`, 1) + "allow_open: true\nadmin: {listen: \"[::1]:9090\"}\n",
		},
		{
			name: "localhost is loopback",
			yaml: strings.Replace(minimal, "127.0.0.1:8080", "localhost:8080", 1) + "admin: {listen: 'localhost:9090'}\n",
		},
		{
			name: "admin beyond loopback needs a token",
			yaml: minimal + "admin: {listen: 0.0.0.0:9090}\n",
			want: []string{`admin.token: is required when admin.listen ("0.0.0.0:9090") is not on loopback, or anyone who can reach it can reload and drain the gateway: set admin.token, or listen on "127.0.0.1:9090" (line 7)`},
		},
		{
			name: "addresses",
			yaml: strings.Replace(minimal, "127.0.0.1:8080", "localhost", 1) + "admin: {listen: ':99999', url: 'ftp://x'}\n",
			want: []string{
				`listen: "localhost" is not a host:port address (for example ":8080" or "127.0.0.1:8080") (line 1)`,
				`admin.listen: ":99999" is not a host:port address (for example ":8080" or "127.0.0.1:8080") (line 7)`,
				`admin.url: "ftp://x" is not an http(s) URL (line 7)`,
			},
		},
		{
			name: "admin and gateway on one socket",
			yaml: minimal + "admin: {listen: ':8080', token: t}\n",
			want: []string{`admin.listen: ":8080" is the same socket as listen ("127.0.0.1:8080"): use another port (line 7)`},
		},
		{
			name: "duplicate YAML key",
			yaml: minimal + "log: {level: info}\nlog: {level: debug}\n",
			want: []string{"log: duplicate key (first at line 7) (line 8)"},
		},
		{
			name: "merge keys: own keys win, unknown merged keys are found",
			yaml: `listen: 127.0.0.1:8080
providers:
  - &p {name: openai, type: openai, base_url: u, colour: red}
  - <<: *p
    name: other
routes:
  - model: gpt
    targets: [{provider: openai, model: m}, {<<: [{provider: other}, 3], model: m}]
`,
			want: []string{
				`providers[0].colour: unknown field (known fields: base_url, api_key, headers, max_idle_conns, name, type, passthrough) (line 3)`,
				`providers[1].colour: unknown field (known fields: base_url, api_key, headers, max_idle_conns, name, type, passthrough) (line 3)`,
				"routes[0].targets[1]: a merge (<<) takes a mapping or a list of mappings (line 8)",
			},
		},
		{
			name: "provider name",
			yaml: `listen: 127.0.0.1:8080
providers:
  - {name: my/openai, type: openai, base_url: u, passthrough: true}
  - {name: "-x", type: sim}
`,
			want: []string{
				`providers[0].name: "my/openai" must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (it prefixes passthrough models: "<provider>/<model>") (line 3)`,
				`providers[1].name: "-x" must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (it prefixes passthrough models: "<provider>/<model>") (line 4)`,
			},
		},
		{
			name: "no route and no passthrough",
			yaml: "listen: 127.0.0.1:8080\nproviders: [{name: a, type: sim}]\n",
			want: []string{"routes: at least one route is required, or passthrough: true on a provider: otherwise clients can call no model"},
		},
		{
			name: "passthrough alone is enough",
			yaml: "listen: 127.0.0.1:8080\nproviders: [{name: a, type: sim, passthrough: true}]\n",
		},
		{
			name: "empty file",
			yaml: "# nothing yet\n",
			want: []string{
				`listen: ":8080" listens on all interfaces and there are no client keys, so anyone who can reach it can use your providers at your cost: add keys, listen on "127.0.0.1:8080", or set allow_open: true`,
				"providers: at least one provider is required",
			},
		},
		{
			name: "syntax error",
			yaml: "listen: [127.0.0.1\nproviders: x\n",
			want: []string{"invalid YAML: did not find expected ',' or ']' (line 1)"},
		},
		{
			name: "two documents",
			yaml: minimal + "---\nlisten: x\n",
			want: []string{`the file holds more than one YAML document (remove the "---" separator) (line 7)`},
		},
		{
			name: "not a mapping",
			yaml: "- listen\n",
			want: []string{"want a mapping, got a list (line 1)"},
		},
		{
			name: "unset variables",
			yaml: `listen: 127.0.0.1:8080
keys: [{name: a, key: "${APP_KEY}"}]
admin: {token: "${ADMIN_TOKEN}"}
providers:
  - {name: openai, type: openai, base_url: "http://${HOST}:${PORT:-80}/v1", api_key: "${OPENAI_API_KEY}"}
  - {name: local, type: openai, base_url: "${LOCAL_URL}"}
routes:
  - model: gpt
    targets: [{provider: openai, model: gpt-4o}]
`,
			want: []string{
				"keys[0].key: environment variable APP_KEY is not set (line 2)",
				"admin.token: environment variable ADMIN_TOKEN is not set (line 3)",
				"providers[0].api_key: environment variable OPENAI_API_KEY is not set (line 5)",
				"providers[0].base_url: environment variable HOST is not set (line 5)",
				"providers[1].base_url: environment variable LOCAL_URL is not set (line 6)",
			},
		},
		{
			name: "empty default opts into an empty value",
			yaml: minimal + "admin: {token: '${ADMIN_TOKEN:-}'}\n",
		},
		{
			name: "set but empty variable is not unset",
			yaml: minimal + "admin: {token: '${ADMIN_TOKEN}'}\n",
			env:  env{"ADMIN_TOKEN": ""},
		},
		{
			name: "bad references",
			yaml: minimal + "data_dir: ${DATA\nadmin: {url: '${1X}'}\n",
			want: []string{
				`data_dir: unterminated "${" (write "$$" for a literal "$") (line 7)`,
				`admin.url: invalid variable reference: want ${NAME} or ${NAME:-default}, where NAME is letters, digits and "_" (write "$$" for a literal "$") (line 8)`,
			},
		},
		{
			name: "typed expansion",
			yaml: minimal + "limits:\n  max_in_flight: ${N}\n  queue: \"${N}\"\n",
			env:  env{"N": "12"},
			want: []string{"limits.queue: want an integer; the value, from the environment, is not shown (line 9)"},
		},
		{
			name: "secret of the wrong shape",
			yaml: minimal + "admin: {token: [a, b]}\n",
			want: []string{"admin.token: want a string, got a list (line 7)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := tt.env
			if e == nil {
				e = env{}
			}
			_, err := parse([]byte(tt.yaml), testKinds, e.lookup)
			got := problemStrings(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got: %s\nwant: %s", quoteLines(got), quoteLines(tt.want))
			}
		})
	}
}

// problemStrings returns the problems of a parse error as Error() prints
// them, or nil for no error.
func problemStrings(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error %v is %T, want *Error", err, err)
	}
	return strings.Split(cfgErr.Error(), "\n")
}

func quoteLines(ss []string) string {
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "\n\t%q,", s)
	}
	return b.String()
}

func TestErrorSortsByLineThenPath(t *testing.T) {
	t.Parallel()
	e := &Error{Problems: []Problem{
		{Path: "b", Line: 2, Message: "x"},
		{Path: "a", Line: 2, Message: "y"},
		{Path: "z", Message: "no line"},
		{Line: 1, Message: "syntax"},
	}}
	want := "z: no line\nsyntax (line 1)\na: y (line 2)\nb: x (line 2)"
	if got := e.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

// TestSecretsNeverInMessages breaks configs around secrets, literal and from
// the environment, and checks no message carries them.
func TestSecretsNeverInMessages(t *testing.T) {
	t.Parallel()
	const secret = "sk-TOP-SECRET-4242"
	e := env{"KEY": secret, "RPM": secret, "TTL": secret}
	configs := map[string]string{
		"literal key, duplicated": "keys: [{name: a, key: " + secret + "}, {name: b, key: " + secret + ", key_sha256: x}]\n",
		"env key, duplicated":     "keys: [{name: a, key: '${KEY}'}, {name: a, key: '${KEY}'}]\n",
		"secret in number fields": "keys: [{name: a, key: k, rpm: ${RPM}}]\nbreaker: {window: ${TTL}}\n",
		"secret of the wrong shape": "admin: {listen: 0.0.0.0:1, token: {" + secret + ": 1}}\n" +
			"providers: [{name: p, type: openai, base_url: u, api_key: [" + secret + "]}]\n",
		"provider with secrets and problems": "providers: [{name: p, type: openai, api_key: '${KEY}', max_idle_conns: -1}]\n",
	}
	for name, extra := range configs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parse([]byte(minimal+extra), testKinds, e.lookup)
			if err == nil {
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "TOP-SECRET") {
				t.Errorf("error leaks the secret:\n%s", err)
			}
		})
	}

	c, err := parse(readFull(t), testKinds, fullEnv.lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(f, c) + fmt.Sprintf(f, c.Providers[0].Spec)
		for _, s := range fullEnv {
			if strings.Contains(out, s) {
				t.Errorf("%s of the config leaks %q", f, s)
			}
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	fields := []string{"provider", "model", "weight", "capabilities", "max_context"}
	tests := []struct{ in, want string }{
		{"modle", "model"},
		{"Model", "model"},
		{"weigth", "weight"},
		{"capability", "capabilities"},
		{"max_ctx", ""},
		{"x", ""},
		{"provider_name", "provider"},
		{"zzzzzz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got := suggest(tt.in, fields); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestAliasBombIsRefused feeds a short file whose aliases expand, through
// routes, targets and capabilities, to millions of nodes.
func TestAliasBombIsRefused(t *testing.T) {
	t.Parallel()
	const width = 150
	many := func(s string) string { return strings.TrimSuffix(strings.Repeat(s+", ", width), ", ") }
	doc := "listen: 127.0.0.1:8080\nproviders: [{name: p, type: sim}]\nroutes:\n" +
		"  - &r {model: m, targets: [&t {provider: p, model: m, capabilities: [" + many("tools") + "]}, " + many("*t") + "]}\n" +
		"  - " + strings.Repeat("*r\n  - ", width) + "*r\n"
	_, err := parse([]byte(doc), testKinds, env{}.lookup)
	if err == nil || !strings.Contains(err.Error(), "the document expands too many aliases") {
		t.Fatalf("err = %.300v, want the alias limit", err)
	}
}
