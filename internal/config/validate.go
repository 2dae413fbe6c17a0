package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

var (
	strategies   = []string{StrategyPriority, StrategyWeighted, StrategyLeastLatency}
	capabilities = []string{CapabilityTools, CapabilityVision, CapabilityJSONSchema, CapabilityPrefill}
	logLevels    = []string{"debug", "info", "warn", "error"}
	logFormats   = []string{"json", "text"}
)

// maxAttempts caps retries.attempts: beyond it, retries multiply an outage's
// load on the provider more than they help.
const maxAttempts = 10

// Validate returns every problem with c, each at its YAML path. It checks
// values and the references between sections (targets to providers, keys to
// routes); unknown keys and wrong types are found earlier, by Parse.
func (c *Config) Validate() []Problem {
	var ps problems
	c.validateServer(&ps)
	providers := c.validateProviders(&ps)
	routes := c.validateRoutes(&ps, providers)
	c.validateKeys(&ps, routes)
	c.validatePrices(&ps, providers)
	c.Limits.validate(&ps)
	c.Timeouts.validate(&ps)
	c.Retries.validate(&ps)
	c.Breaker.validate(&ps)
	return ps
}

type problems []Problem

func (ps *problems) addf(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *Config) validateServer(ps *problems) {
	listenOK := validAddr(ps, "listen", c.Listen)
	adminOK := validAddr(ps, "admin.listen", c.Admin.Listen)
	if listenOK && adminOK && sameSocket(c.Listen, c.Admin.Listen) {
		ps.addf("admin.listen", "%q is the same socket as listen (%q): use another port", c.Admin.Listen, c.Listen)
	}
	if listenOK && len(c.Keys) == 0 && !c.AllowOpen && !isLoopback(c.Listen) {
		ps.addf("listen", "%s", openGateway(c.Listen))
	}
	if adminOK && c.Admin.Token == "" && !isLoopback(c.Admin.Listen) {
		_, port, _ := net.SplitHostPort(c.Admin.Listen)
		ps.addf("admin.token", "is required when admin.listen (%q) is not on loopback, or anyone who can reach it can reload and drain the gateway: set admin.token, or listen on \"127.0.0.1:%s\"", c.Admin.Listen, port)
	}
	if c.Admin.URL != "" && !isHTTPURL(c.Admin.URL) {
		ps.addf("admin.url", "%q is not an http(s) URL", c.Admin.URL)
	}
	if c.DataDir == "" {
		ps.addf("data_dir", "is required")
	}
	enum(ps, "log.level", "level", c.Log.Level, logLevels)
	enum(ps, "log.format", "format", c.Log.Format, logFormats)
	if c.MaxBodySize <= 0 {
		ps.addf("max_body_size", "must be positive")
	}
	positive(ps, "shutdown_timeout", c.ShutdownTimeout)
}

// openGateway explains the safety rule: a gateway without client keys spends
// the operator's provider credits for anyone who can reach it, so beyond
// loopback it needs keys or an explicit allow_open.
func openGateway(listen string) string {
	host, port, _ := net.SplitHostPort(listen)
	where := fmt.Sprintf("%q is not a loopback address", listen)
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		where = fmt.Sprintf("%q listens on all interfaces", listen)
	}
	return where + fmt.Sprintf(" and there are no client keys, so anyone who can reach it can use your providers at your cost: add keys, listen on \"127.0.0.1:%s\", or set allow_open: true", port)
}

// validAddr checks a host:port listen address.
func validAddr(ps *problems, path, addr string) bool {
	if addr == "" {
		ps.addf(path, "is required (for example \"127.0.0.1:8080\")")
		return false
	}
	_, port, err := net.SplitHostPort(addr)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		ps.addf(path, "%q is not a host:port address (for example \":8080\" or \"127.0.0.1:8080\")", addr)
		return false
	}
	return true
}

func isLoopback(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// sameSocket reports whether two valid listen addresses would collide.
func sameSocket(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	return ha == hb || allInterfaces(ha) || allInterfaces(hb)
}

func allInterfaces(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// names records the names of one section, in order, to find duplicates and
// to resolve references with a suggestion.
type names struct {
	at   map[string]string // name -> path of the entry that has it
	list []string
}

func newNames() *names { return &names{at: map[string]string{}} }

// claim records the name of the entry at path, reporting it if it is missing
// or already taken. It reports whether the name is new.
func (ns *names) claim(ps *problems, entry, field, name string) bool {
	path := entry + "." + field
	if name == "" {
		ps.addf(path, "is required")
		return false
	}
	if first, dup := ns.at[name]; dup {
		ps.addf(path, "duplicate name %q (also at %s)", name, first)
		return false
	}
	ns.at[name] = entry
	ns.list = append(ns.list, name)
	return true
}

func (ns *names) has(name string) bool {
	_, ok := ns.at[name]
	return ok
}

// unknown is the message for a reference to a name that does not exist.
func (ns *names) unknown(what, name string) string {
	hint := didYouMean(name, ns.list)
	if hint == "" && len(ns.list) > 0 {
		hint = fmt.Sprintf(" (known %ss: %s)", what, strings.Join(ns.list, ", "))
	}
	return fmt.Sprintf("unknown %s %q%s", what, name, hint)
}

func (c *Config) validateProviders(ps *problems) *names {
	ns := newNames()
	if len(c.Providers) == 0 {
		ps.addf("providers", "at least one provider is required")
	}
	for i, p := range c.Providers {
		path := index("providers", i)
		if ns.claim(ps, path, "name", p.Name) && !validProviderName(p.Name) {
			ps.addf(path+".name", "%q must start with a letter or digit and hold only letters, digits, \".\", \"_\" and \"-\" (it prefixes passthrough models: \"<provider>/<model>\")", p.Name)
		}
		if p.Type == "" {
			ps.addf(path+".type", "is required")
		}
		if p.Spec == nil {
			continue
		}
		for _, sp := range p.Spec.Validate() {
			sp.Path = below(path, sp.Path)
			*ps = append(*ps, sp)
		}
	}
	return ns
}

// below puts a path relative to an entry (as a ProviderSpec reports it) under
// the entry's path.
func below(entry, rel string) string {
	switch {
	case rel == "":
		return entry
	case strings.HasPrefix(rel, "["):
		return entry + rel
	}
	return entry + "." + rel
}

func validProviderName(s string) bool {
	for i, c := range s {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return s != ""
}

// validateRoutes checks the routes and returns their model names.
//
// A route model may contain "/" (many model names do, "meta-llama/Llama-3.1-8B"),
// but the part before the first "/" must not be the name of a provider:
// "<provider>/<model>" is the passthrough name space, and a route there would
// shadow a passthrough model, or start to once passthrough is switched on.
// Provider names cannot contain "/", so the split is unambiguous.
func (c *Config) validateRoutes(ps *problems, providers *names) *names {
	models := newNames()
	passthrough := slices.ContainsFunc(c.Providers, func(p Provider) bool { return p.Passthrough })
	if len(c.Routes) == 0 && len(c.Providers) > 0 && !passthrough {
		ps.addf("routes", "at least one route is required, or passthrough: true on a provider: otherwise clients can call no model")
	}
	for i, r := range c.Routes {
		path := index("routes", i)
		if models.claim(ps, path, "model", r.Model) {
			if prefix, _, ok := strings.Cut(r.Model, "/"); ok && providers.has(prefix) {
				ps.addf(path+".model", "%q starts with the provider name %q: \"<provider>/<model>\" names are reserved for passthrough; rename the route", r.Model, prefix)
			}
		}
		enum(ps, path+".strategy", "strategy", r.Strategy, strategies)
		r.validateTargets(ps, path+".targets", providers)
	}
	return models
}

func (r *Route) validateTargets(ps *problems, path string, providers *names) {
	if len(r.Targets) == 0 {
		ps.addf(path, "at least one target is required")
		return
	}
	seen := map[[2]string]string{}
	weighted := false
	for j, t := range r.Targets {
		p := index(path, j)
		switch {
		case t.Provider == "":
			ps.addf(p+".provider", "is required")
		case !providers.has(t.Provider):
			ps.addf(p+".provider", "%s", providers.unknown("provider", t.Provider))
		}
		if t.Model == "" {
			ps.addf(p+".model", "is required")
		}
		nonNegative(ps, p+".weight", t.Weight)
		weighted = weighted || t.Weight > 0
		for k, cp := range t.Capabilities {
			enum(ps, index(p+".capabilities", k), "capability", cp, capabilities)
		}
		nonNegative(ps, p+".max_context", t.MaxContext)
		if t.Provider == "" || t.Model == "" {
			continue
		}
		id := [2]string{t.Provider, t.Model}
		if first, dup := seen[id]; dup {
			ps.addf(p, "duplicate target %s/%s (also at %s)", t.Provider, t.Model, first)
		} else {
			seen[id] = p
		}
	}
	if r.Strategy == StrategyWeighted && !weighted {
		ps.addf(path, "the weighted strategy needs at least one target with weight above 0")
	}
}

func (c *Config) validateKeys(ps *problems, routes *names) {
	ns := newNames()
	hashes := map[string]string{} // SHA-256 of the key -> path of the first key that has it
	for i, k := range c.Keys {
		path := index("keys", i)
		ns.claim(ps, path, "name", k.Name)
		field, hash := keyHash(ps, path, k)
		if hash != "" {
			// Two entries with one key would make the client's identity, and
			// its limits, depend on the order of the file.
			if first, dup := hashes[hash]; dup {
				ps.addf(path+"."+field, "same key as %s", first)
			} else {
				hashes[hash] = path
			}
		}
		nonNegative(ps, path+".rpm", k.RPM)
		nonNegative(ps, path+".tpm", k.TPM)
		for j, r := range k.Routes {
			if !routes.has(r) {
				ps.addf(index(path+".routes", j), "%s", routes.unknown("route", r))
			}
		}
	}
}

// keyHash checks that a key has exactly one of key and key_sha256 and
// returns which field holds it and its lowercase hex SHA-256 ("" when the key
// is unusable). The key itself never reaches a message.
func keyHash(ps *problems, path string, k Key) (field, hash string) {
	switch {
	case k.Key == "" && k.KeySHA256 == "":
		ps.addf(path+".key", "is required (or key_sha256)")
	case k.Key != "" && k.KeySHA256 != "":
		ps.addf(path+".key_sha256", "set key or key_sha256, not both")
	case k.Key != "":
		sum := sha256.Sum256([]byte(k.Key))
		return "key", hex.EncodeToString(sum[:])
	case !isSHA256Hex(k.KeySHA256):
		ps.addf(path+".key_sha256", "must be 64 hex characters (the SHA-256 of the key, as printed by sha256sum)")
	default:
		return "key_sha256", strings.ToLower(k.KeySHA256)
	}
	return "", ""
}

func isSHA256Hex(s string) bool {
	_, err := hex.DecodeString(s)
	return len(s) == 2*sha256.Size && err == nil
}

func (c *Config) validatePrices(ps *problems, providers *names) {
	seen := map[[2]string]string{}
	for i, p := range c.Prices {
		path := index("prices", i)
		if p.Model == "" {
			ps.addf(path+".model", "is required")
		}
		if p.Provider != "" && !providers.has(p.Provider) {
			ps.addf(path+".provider", "%s", providers.unknown("provider", p.Provider))
		}
		price(ps, path+".input_per_mtok", p.Input)
		price(ps, path+".output_per_mtok", p.Output)
		if p.Model == "" {
			continue
		}
		id := [2]string{p.Provider, p.Model}
		if first, dup := seen[id]; dup {
			ps.addf(path+".model", "duplicate price for %q (also at %s)", p.Model, first)
		} else {
			seen[id] = path
		}
	}
}

func price(ps *problems, path string, v float64) {
	if !(v >= 0) || math.IsInf(v, 1) {
		ps.addf(path, "must be a number, 0 or more (USD per million tokens)")
	}
}

func (l Limits) validate(ps *problems) {
	if l.MaxInFlight < 1 {
		ps.addf("limits.max_in_flight", "must be at least 1")
	}
	nonNegative(ps, "limits.queue", l.Queue)
	switch {
	case l.QueueTimeout < 0:
		ps.addf("limits.queue_timeout", "must not be negative")
	case l.Queue > 0 && l.QueueTimeout == 0:
		ps.addf("limits.queue_timeout", "must be positive when limits.queue is above 0")
	}
}

type namedDuration struct {
	name string
	d    Duration
}

func (t Timeouts) validate(ps *problems) {
	for _, f := range []namedDuration{
		{"request", t.Request}, {"attempt", t.Attempt}, {"connect", t.Connect},
		{"header", t.Header}, {"first_token", t.FirstToken}, {"idle", t.Idle},
	} {
		positive(ps, "timeouts."+f.name, f.d)
	}
	if t.Request <= 0 {
		return
	}
	// These run inside the request's budget: a longer one could never fire.
	for _, f := range []namedDuration{{"attempt", t.Attempt}, {"header", t.Header}, {"first_token", t.FirstToken}} {
		if f.d > t.Request {
			ps.addf("timeouts."+f.name, "%s must not be longer than timeouts.request (%s)", f.d, t.Request)
		}
	}
	if t.Connect >= t.Request {
		ps.addf("timeouts.connect", "%s must be shorter than timeouts.request (%s)", t.Connect, t.Request)
	}
}

func (r Retries) validate(ps *problems) {
	switch {
	case r.Attempts < 1:
		ps.addf("retries.attempts", "must be at least 1 (the first try counts)")
	case r.Attempts > maxAttempts:
		ps.addf("retries.attempts", "must be at most %d", maxAttempts)
	}
	nonNegative(ps, "retries.backoff", r.Backoff)
	nonNegative(ps, "retries.max_backoff", r.MaxBackoff)
	nonNegative(ps, "retries.max_retry_after", r.MaxRetryAfter)
	if r.MaxBackoff >= 0 && r.Backoff > r.MaxBackoff {
		ps.addf("retries.backoff", "%s must not be longer than retries.max_backoff (%s)", r.Backoff, r.MaxBackoff)
	}
}

func (b Breaker) validate(ps *problems) {
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		ps.addf("breaker.failure_ratio", "must be above 0 and at most 1")
	}
	if b.MinRequests < 1 {
		ps.addf("breaker.min_requests", "must be at least 1")
	}
	positive(ps, "breaker.window", b.Window)
	positive(ps, "breaker.open_for", b.OpenFor)
}

func positive(ps *problems, path string, d Duration) {
	if d <= 0 {
		ps.addf(path, "must be positive")
	}
}

func nonNegative[T int | Duration](ps *problems, path string, v T) {
	if v < 0 {
		ps.addf(path, "must not be negative")
	}
}

// enum checks that val is one of allowed.
func enum(ps *problems, path, what, val string, allowed []string) {
	switch {
	case slices.Contains(allowed, val):
	case val == "":
		ps.addf(path, "is required (want %s)", oneOf(allowed))
	default:
		hint := didYouMean(val, allowed)
		if hint == "" {
			hint = " (want " + oneOf(allowed) + ")"
		}
		ps.addf(path, "unknown %s %q%s", what, val, hint)
	}
}
