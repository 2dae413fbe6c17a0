package health

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/event"
)

// Status is a component's health in Atlassian Statuspage's words.
type Status uint8

const (
	Operational Status = iota
	DegradedPerformance
	PartialOutage
	MajorOutage
)

var statusNames = [...]string{"operational", "degraded_performance", "partial_outage", "major_outage"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// MarshalText writes the status's name, for JSON and logs.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Thresholds say when traffic makes a component degraded or down. A window
// with fewer than its minimum of requests says nothing, so one error out of
// two requests is not an outage.
type Thresholds struct {
	// Short is the window that catches a dead provider under traffic fast.
	Short          time.Duration
	ShortMinVolume int
	// ConsecutiveFailures in a row also mean major_outage, whatever the volume.
	ConsecutiveFailures int
	// Long is the window that judges degradation.
	Long          time.Duration
	LongMinVolume int
	// Error ratios over the windows for each status.
	MajorRatio, PartialRatio, DegradedRatio float64
	// Down is how many evaluations in a row must find a worse status before
	// it is taken; Up how many must find a better one. Evaluations run at
	// every failed attempt and every second.
	Down, Up int
}

// DefaultThresholds: a dead provider under a few requests a second is
// major_outage within about 3 s; recovering takes 30 s of good evaluations.
func DefaultThresholds() Thresholds {
	return Thresholds{
		Short: 10 * time.Second, ShortMinVolume: 5, ConsecutiveFailures: 5,
		Long: time.Minute, LongMinVolume: 10,
		MajorRatio: 0.9, PartialRatio: 0.5, DegradedRatio: 0.1,
		Down: 2, Up: 30,
	}
}

// Kind says whether a component is a provider's target or a route.
type Kind string

const (
	KindTarget Kind = "target"
	KindRoute  Kind = "route"
	// KindCheck is an active check of anything else an AI feature needs
	// (a vector database, an internal API): judged on its runs.
	KindCheck Kind = "check"
)

// CheckThresholds judge active checks, which run every few seconds at
// most: failures in a row decide, as volume never fills a window.
func CheckThresholds() Thresholds {
	th := DefaultThresholds()
	th.ConsecutiveFailures = 3
	return th
}

// StatusChanged is the event of a component taking a new status.
type StatusChanged struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"` // "provider/model", the route's or the check's name
	// Provider and Model name a target (Kind target).
	Provider string    `json:"provider,omitempty"`
	Model    string    `json:"model,omitempty"`
	From     Status    `json:"from"`
	To       Status    `json:"to"`
	At       time.Time `json:"at"`
	// Requests and Failures over the window that decided, and its length.
	Requests int           `json:"requests"`
	Failures int           `json:"failures"`
	Window   time.Duration `json:"window_ns"`
	// InARow is the failures in a row that decided, when they did.
	InARow int `json:"in_a_row,omitempty"`
	// Held: the gateway holds traffic off the target after those failures.
	Held bool   `json:"held,omitempty"`
	Text string `json:"summary"` // one sentence for people
}

var _ event.Event = StatusChanged{}

func (ev StatusChanged) Type() string { return "status_changed" }
func (ev StatusChanged) About() event.Subject {
	return event.Subject{Kind: string(ev.Kind), Name: ev.Name}
}
func (ev StatusChanged) When() time.Time { return ev.At }
func (ev StatusChanged) Summary() string { return ev.Text }

// Severity: an outage is critical, a degradation a warning, a recovery
// (a better status) news.
func (ev StatusChanged) Severity() event.Severity {
	switch {
	case ev.To < ev.From:
		return event.Info
	case ev.To == MajorOutage:
		return event.Critical
	case ev.To == PartialOutage && ev.Kind == KindRoute:
		return event.Critical
	}
	return event.Warning
}

// Tracker keeps passive health from observations: per target, what the
// provider did on every attempt; per route, what clients got (final
// attempts only, after failover). It is a Sink.
type Tracker struct {
	mu       sync.Mutex
	clk      clock.Clock
	th       Thresholds
	targets  map[componentKey]*series
	routes   map[componentKey]*series
	checks   map[componentKey]*series
	onChange func(StatusChanged)
	// refusing reports whether the gateway holds traffic off a target (its
	// breaker is open or cooling down after failures). Such a target gets
	// few attempts, so its windows alone would see an outage late.
	refusing func(provider, model string) bool
}

// SetRefusing tells the tracker how to know that the gateway holds traffic
// off a target. Call it before the tracker is used.
func (t *Tracker) SetRefusing(f func(provider, model string) bool) { t.refusing = f }

// NewTracker returns a tracker that calls onChange (under no lock of its
// own callers) for every status change.
func NewTracker(clk clock.Clock, th Thresholds, onChange func(StatusChanged)) *Tracker {
	return &Tracker{clk: clk, th: th, targets: map[componentKey]*series{}, routes: map[componentKey]*series{},
		checks: map[componentKey]*series{}, onChange: onChange}
}

// kinds lists the component maps in the order Statuses reports them.
func (t *Tracker) kinds() [3]struct {
	k Kind
	m map[componentKey]*series
} {
	return [3]struct {
		k Kind
		m map[componentKey]*series
	}{{KindTarget, t.targets}, {KindRoute, t.routes}, {KindCheck, t.checks}}
}

func (t *Tracker) thresholds(k Kind) Thresholds {
	if k == KindCheck {
		th := t.th
		th.ConsecutiveFailures = min(th.ConsecutiveFailures, CheckThresholds().ConsecutiveFailures)
		return th
	}
	return t.th
}

// componentKey names a target (provider, model) or a route (name, "")
// without building a string per observation.
type componentKey struct{ a, b string }

func (k componentKey) name() string {
	if k.b == "" {
		return k.a
	}
	return k.a + "/" + k.b
}

// failed reports whether an outcome counts against a component, and
// whether it counts at all: a client that left says nothing of the
// provider, and a 4xx is the client's request, not the provider's health.
func failed(o Outcome) (bad, counts bool) {
	switch o {
	case OK, HTTP4xx:
		return false, true
	case ClientCanceled:
		return false, false
	}
	return true, true
}

// Observe adds one attempt.
func (t *Tracker) Observe(o *Observation) {
	bad, counts := failed(o.Outcome)
	if !counts {
		return
	}
	now := t.clk.Now()
	var events []StatusChanged
	t.mu.Lock()
	if o.Provider != "" {
		s := t.add(&events, KindTarget, t.targets, componentKey{o.Provider, o.Model}, now, o.Outcome, bad)
		s.recordDetail(now, o, o.Latency)
		if !o.Probe {
			s.lastTraffic = now
		}
	}
	if o.Final && o.Route != "" {
		s := t.add(&events, KindRoute, t.routes, componentKey{o.Route, ""}, now, o.Outcome, bad)
		s.recordDetail(now, o, o.Elapsed)
	}
	if o.Check != "" {
		s := t.add(&events, KindCheck, t.checks, componentKey{o.Check, ""}, now, o.Outcome, bad)
		s.recordDetail(now, o, o.Latency)
	}
	t.mu.Unlock()
	t.emit(events)
}

// Tick re-evaluates every component, so that statuses move while traffic
// is quiet. Call it about every second.
func (t *Tracker) Tick() {
	now := t.clk.Now()
	var events []StatusChanged
	t.mu.Lock()
	for _, kind := range t.kinds() {
		th := t.thresholds(kind.k)
		for key, s := range kind.m {
			s.held = kind.k == KindTarget && t.refusing != nil && t.refusing(key.a, key.b)
			if ev, ok := s.evaluate(th, now); ok {
				events = append(events, ev.named(kind.k, key))
			}
		}
	}
	t.mu.Unlock()
	t.emit(events)
}

func (t *Tracker) add(events *[]StatusChanged, k Kind, m map[componentKey]*series, key componentKey, now time.Time, outcome Outcome, bad bool) *series {
	s := m[key]
	if s == nil {
		s = &series{}
		m[key] = s
	}
	s.record(now, outcome, bad)
	// A failure may be the one that tips the status: judge at once. Good
	// news waits for Tick, which keeps evaluation off the busy path.
	if bad {
		if ev, ok := s.evaluate(t.thresholds(k), now); ok {
			*events = append(*events, ev.named(k, key))
		}
	}
	return s
}

func (t *Tracker) emit(events []StatusChanged) {
	if t.onChange == nil {
		return
	}
	for _, ev := range events {
		t.onChange(ev)
	}
}

// ComponentStatus is one component's current status and recent traffic.
type ComponentStatus struct {
	Kind   Kind
	Name   string
	Status Status
	Since  time.Time
	// OneMinute and FiveMinutes describe the traffic of the last 1 and 5
	// minutes (for a route, what clients got).
	OneMinute, FiveMinutes Window
}

// Statuses lists every component seen, targets first, then routes and
// checks, each by name.
func (t *Tracker) Statuses() []ComponentStatus {
	now := t.clk.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []ComponentStatus
	for _, kind := range t.kinds() {
		start := len(out)
		for key, s := range kind.m {
			out = append(out, ComponentStatus{Kind: kind.k, Name: key.name(), Status: s.status, Since: s.since,
				OneMinute: s.detail(now, time.Minute), FiveMinutes: s.detail(now, 5*time.Minute)})
		}
		part := out[start:]
		sort.Slice(part, func(i, j int) bool { return part[i].Name < part[j].Name })
	}
	return out
}

// CheckStatus returns an active check's status; operational when never run.
func (t *Tracker) CheckStatus(name string) Status {
	return t.status(t.checks, componentKey{name, ""})
}

// LastTraffic returns when the gateway last sent a real (not probe)
// request to a target; zero when never.
func (t *Tracker) LastTraffic(provider, model string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.targets[componentKey{provider, model}]; s != nil {
		return s.lastTraffic
	}
	return time.Time{}
}

// Responsiveness returns, per target seen, the median time its answers took
// to begin over the last minute (time to first event for streams, latency
// otherwise); targets without traffic in that minute are left out. The
// least_latency strategy orders by it.
func (t *Tracker) Responsiveness(visit func(provider, model string, d time.Duration)) {
	now := t.clk.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, s := range t.targets {
		if d := s.responsiveness(now, time.Minute); d > 0 {
			visit(key.a, key.b, d)
		}
	}
}

// TargetStatus returns a target's status; operational when never seen.
func (t *Tracker) TargetStatus(provider, model string) Status {
	return t.status(t.targets, componentKey{provider, model})
}

// RouteStatus returns a route's status; operational when never seen.
func (t *Tracker) RouteStatus(route string) Status {
	return t.status(t.routes, componentKey{route, ""})
}

func (t *Tracker) status(m map[componentKey]*series, k componentKey) Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := m[k]; s != nil {
		return s.status
	}
	return Operational
}

// windowSeconds is how many one-second buckets a series keeps: enough for
// the long window.
const windowSeconds = 300

type bucket struct {
	sec            int64
	total, failure uint32
}

// series is one component's recent traffic in one-second buckets, and its
// status with the evaluations that argue for a change.
type series struct {
	buckets     [windowSeconds]bucket
	slices      [numSlices]slice
	lastTraffic time.Time
	consecutive int
	status      Status
	since       time.Time
	// pending is the status the last evaluations found, and how many in a
	// row found it.
	pending Status
	streak  int
	// held: traffic is held off the component (see Tracker.refusing); last
	// is the outcome of its latest failed attempt.
	held bool
	last Outcome
}

func (s *series) record(now time.Time, o Outcome, bad bool) {
	sec := now.Unix()
	b := &s.buckets[sec%windowSeconds]
	if b.sec != sec {
		*b = bucket{sec: sec}
	}
	b.total++
	if bad {
		b.failure++
		s.consecutive++
		s.last = o
	} else {
		s.consecutive = 0
	}
}

// window sums the buckets of the last d.
func (s *series) window(now time.Time, d time.Duration) (total, failures int) {
	end := now.Unix()
	start := end - int64(d/time.Second) + 1
	for i := range s.buckets {
		if b := s.buckets[i]; b.sec >= start && b.sec <= end {
			total += int(b.total)
			failures += int(b.failure)
		}
	}
	return total, failures
}

// verdict is what the windows say now, and the evidence.
type verdict struct {
	status          Status
	total, failures int
	window          time.Duration
	inARow          int  // set when failures in a row decided
	held            bool // set when held traffic decided
}

func (s *series) judge(th Thresholds, now time.Time) verdict {
	total, failures := s.window(now, th.Short)
	if s.held && s.consecutive > 0 {
		// Failures made the gateway hold traffic off it: down, or, when it
		// is rate limiting, partly down.
		v := verdict{status: MajorOutage, total: total, failures: failures, window: th.Short, inARow: s.consecutive, held: true}
		if s.last == HTTP429 {
			v.status = PartialOutage
		}
		return v
	}
	if s.consecutive >= th.ConsecutiveFailures && s.consecutive > 0 {
		return verdict{status: MajorOutage, total: total, failures: failures, window: th.Short, inARow: s.consecutive}
	}
	if total >= th.ShortMinVolume && float64(failures) >= th.MajorRatio*float64(total) {
		return verdict{status: MajorOutage, total: total, failures: failures, window: th.Short}
	}
	total, failures = s.window(now, th.Long)
	v := verdict{status: Operational, total: total, failures: failures, window: th.Long}
	if total < th.LongMinVolume {
		// Too little traffic to judge degradation: a dead provider is still
		// caught by the short window or consecutive failures.
		return v
	}
	switch r := float64(failures) / float64(total); {
	case r >= th.MajorRatio:
		v.status = MajorOutage
	case r >= th.PartialRatio:
		v.status = PartialOutage
	case r >= th.DegradedRatio:
		v.status = DegradedPerformance
	}
	return v
}

// evaluate moves the status when enough evaluations in a row agree: Down
// of them for a worse status, Up for a better one.
func (s *series) evaluate(th Thresholds, now time.Time) (StatusChanged, bool) {
	v := s.judge(th, now)
	if v.status == s.status {
		s.streak = 0
		return StatusChanged{}, false
	}
	if v.status != s.pending {
		s.pending, s.streak = v.status, 0
	}
	s.streak++
	need := th.Up
	if v.status > s.status {
		need = th.Down
	}
	if s.streak < need {
		return StatusChanged{}, false
	}
	ev := StatusChanged{From: s.status, To: v.status, At: now, Requests: v.total, Failures: v.failures, Window: v.window, InARow: v.inARow, Held: v.held}
	s.status, s.since, s.streak = v.status, now, 0
	return ev, true
}

func (ev StatusChanged) named(k Kind, key componentKey) StatusChanged {
	name := key.name()
	ev.Kind, ev.Name = k, name
	if k == KindTarget {
		ev.Provider, ev.Model = key.a, key.b
	}
	failedInARow := fmt.Sprintf("its last %d requests failed", ev.InARow)
	if ev.InARow == 1 {
		failedInARow = "its last request failed"
	}
	if ev.Held {
		ev.Text = fmt.Sprintf("%s %s is %s (was %s): %s and relais holds traffic off it", k, name, ev.To, ev.From, failedInARow)
		return ev
	}
	if ev.InARow > 0 {
		ev.Text = fmt.Sprintf("%s %s is %s (was %s): %s", k, name, ev.To, ev.From, failedInARow)
		return ev
	}
	ev.Text = fmt.Sprintf("%s %s is %s (was %s): %d of %d requests failed in the last %s",
		k, name, ev.To, ev.From, ev.Failures, ev.Requests, ev.Window)
	return ev
}
