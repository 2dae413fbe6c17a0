package config

import "strconv"

// Config is the whole relais.yaml.
type Config struct {
	// Listen is the gateway listener (AI API, later the status page).
	Listen string `yaml:"listen"`
	// AllowOpen lets a gateway with no client keys listen beyond loopback.
	AllowOpen bool   `yaml:"allow_open"`
	Admin     Admin  `yaml:"admin"`
	DataDir   string `yaml:"data_dir"`
	Log       Log    `yaml:"log"`
	// MaxBodySize caps request bodies on the AI API (413 beyond).
	MaxBodySize ByteSize `yaml:"max_body_size"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests and streams.
	ShutdownTimeout Duration   `yaml:"shutdown_timeout"`
	Keys            []Key      `yaml:"keys"`
	Providers       []Provider `yaml:"providers"`
	Routes          []Route    `yaml:"routes"`
	Limits          Limits     `yaml:"limits"`
	Timeouts        Timeouts   `yaml:"timeouts"`
	Retries         Retries    `yaml:"retries"`
	Breaker         Breaker    `yaml:"breaker"`
	// Prices turn token usage into cost, per provider model.
	Prices []Price `yaml:"prices"`
}

// Admin is the operators' listener.
type Admin struct {
	Listen string `yaml:"listen"`
	Token  Secret `yaml:"token"`
	// URL is where the CLI (relais reload …) reaches the admin API; derived from Listen when empty.
	URL string `yaml:"url"`
	// Pprof serves Go's profiler at /debug/pprof/ on the admin listener,
	// behind the admin token. Off by default.
	Pprof bool `yaml:"pprof"`
}

// Log sets the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | text
	// Bodies logs prompts and completions. Off by default: they are user data.
	Bodies bool `yaml:"bodies"`
}

// Key is one client key.
type Key struct {
	Name string `yaml:"name"`
	// Key is the key itself; only its SHA-256 is kept in memory after load.
	Key Secret `yaml:"key"`
	// KeySHA256 lets operators configure the hex SHA-256 of a key instead of the key.
	KeySHA256 string `yaml:"key_sha256"`
	RPM       int    `yaml:"rpm"` // requests per minute, 0 = unlimited
	TPM       int    `yaml:"tpm"` // tokens per minute, 0 = unlimited
	// Routes restricts the key to these route names; empty = all routes.
	Routes []string `yaml:"routes"`
}

// Provider is one upstream. Name, Type and Passthrough are common; the rest of
// the mapping belongs to the kind named by Type and is decoded into Spec.
type Provider struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Passthrough lets clients call any model of this provider as "<name>/<model>"
	// without a route (one target, no failover).
	Passthrough bool `yaml:"passthrough"`
	// Spec holds the kind's own options, decoded strictly into the struct that
	// the kind registered. It is nil until Load has run.
	Spec ProviderSpec `yaml:"-"`
}

// ProviderSpec is a provider kind's own options: a pointer to a struct with
// yaml tags, decoded strictly like the rest of the file. Its keys must not be
// name, type or passthrough, which Provider takes, and its Validate messages
// must not quote secret values (Secret fields are safe: they print redacted).
type ProviderSpec interface {
	// Validate returns every problem, each with its path relative to the provider
	// entry (for example "base_url").
	Validate() []Problem
}

// Route maps the model name clients send to ordered targets.
type Route struct {
	Model    string   `yaml:"model"`
	Strategy string   `yaml:"strategy"` // priority | weighted | least_latency
	Targets  []Target `yaml:"targets"`
	// ContinueStreams continues a text stream that dies after content reached
	// the client on the next target, which is given the text so far, so the
	// client gets one whole answer. Only routes that opt in keep that text.
	ContinueStreams bool `yaml:"continue_streams"`
}

// Route strategies.
const (
	StrategyPriority     = "priority"      // first healthy target in order
	StrategyWeighted     = "weighted"      // random by Target.Weight
	StrategyLeastLatency = "least_latency" // fastest healthy target
)

// Target capabilities.
const (
	CapabilityTools      = "tools"
	CapabilityVision     = "vision"
	CapabilityJSONSchema = "json_schema"
	// CapabilityPrefill: the target continues a final assistant message
	// (Anthropic targets always do). Stream continuation prefills such
	// targets and instructs the others.
	CapabilityPrefill = "prefill"
)

// Target is one provider model that can serve a route.
type Target struct {
	Provider string `yaml:"provider"`
	Model    string `yaml:"model"`
	Weight   int    `yaml:"weight"` // weighted strategy; default 1
	// Capabilities the target has, from tools, vision, json_schema, prefill.
	// Omitted means unknown, and the target is assumed able to serve any
	// request (but not to take a prefill unless it speaks Anthropic).
	Capabilities []string `yaml:"capabilities"`
	// MaxContext is the model's context window in tokens; 0 = unknown.
	MaxContext int `yaml:"max_context"`
}

// Limits is admission control on the gateway.
type Limits struct {
	MaxInFlight  int      `yaml:"max_in_flight"`
	Queue        int      `yaml:"queue"`
	QueueTimeout Duration `yaml:"queue_timeout"`
}

// Timeouts bound every attempt inside one request budget.
type Timeouts struct {
	Request    Duration `yaml:"request"`     // whole request, all attempts
	Attempt    Duration `yaml:"attempt"`     // one non-streaming attempt
	Connect    Duration `yaml:"connect"`     // TCP + TLS
	Header     Duration `yaml:"header"`      // streams: response headers
	FirstToken Duration `yaml:"first_token"` // streams: first event, from sending
	Idle       Duration `yaml:"idle"`        // streams: gap between events
}

// Retries is the same-target retry policy.
type Retries struct {
	Attempts      int      `yaml:"attempts"` // tries per target, the first included
	Backoff       Duration `yaml:"backoff"`
	MaxBackoff    Duration `yaml:"max_backoff"`
	MaxRetryAfter Duration `yaml:"max_retry_after"`
}

// Breaker is the per-target circuit breaker.
type Breaker struct {
	FailureRatio float64  `yaml:"failure_ratio"`
	MinRequests  int      `yaml:"min_requests"`
	Window       Duration `yaml:"window"`
	OpenFor      Duration `yaml:"open_for"`
}

// Price is the cost of one provider model, in USD per million tokens.
type Price struct {
	Provider string  `yaml:"provider"` // empty = any provider serving Model
	Model    string  `yaml:"model"`
	Input    float64 `yaml:"input_per_mtok"`
	Output   float64 `yaml:"output_per_mtok"`
}

// Problem is one thing wrong with a config, at a YAML path.
type Problem struct {
	Path    string // e.g. routes[2].targets[0].provider
	Line    int    // 0 when unknown
	Message string
}

func (p Problem) String() string {
	s := p.Message
	if p.Path != "" {
		s = p.Path + ": " + s
	}
	if p.Line > 0 {
		s += " (line " + strconv.Itoa(p.Line) + ")"
	}
	return s
}
