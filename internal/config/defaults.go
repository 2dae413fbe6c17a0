package config

import "time"

// Defaults fills every field that is zero with its default. It is the one
// place defaults live.
//
// Parse applies it to an empty Config before decoding the file (and the
// element defaults to each new route and target before decoding it), so a
// value the file sets wins even when it is zero: queue: 0 means no queue and
// weight: 0 takes a target out of a weighted route. Called on a Config built
// in code, it cannot tell an intended 0 from an unset one and fills both.
func Defaults(c *Config) {
	orDefault(&c.Listen, ":8080")
	orDefault(&c.Admin.Listen, "127.0.0.1:9090")
	orDefault(&c.DataDir, "./data")
	orDefault(&c.Log.Level, "info")
	orDefault(&c.Log.Format, "json")
	orDefault(&c.MaxBodySize, 10<<20)
	orDefault(&c.ShutdownTimeout, Duration(30*time.Second))

	orDefault(&c.Limits.MaxInFlight, 512)
	orDefault(&c.Limits.Queue, 256)
	orDefault(&c.Limits.QueueTimeout, Duration(2*time.Second))

	orDefault(&c.Timeouts.Request, Duration(120*time.Second))
	orDefault(&c.Timeouts.Attempt, Duration(60*time.Second))
	orDefault(&c.Timeouts.Connect, Duration(3*time.Second))
	orDefault(&c.Timeouts.Header, Duration(15*time.Second))
	orDefault(&c.Timeouts.FirstToken, Duration(10*time.Second))
	orDefault(&c.Timeouts.Idle, Duration(30*time.Second))

	orDefault(&c.Retries.Attempts, 2)
	orDefault(&c.Retries.Backoff, Duration(100*time.Millisecond))
	orDefault(&c.Retries.MaxBackoff, Duration(2*time.Second))
	orDefault(&c.Retries.MaxRetryAfter, Duration(3*time.Second))

	orDefault(&c.Breaker.FailureRatio, 0.5)
	orDefault(&c.Breaker.MinRequests, 10)
	orDefault(&c.Breaker.Window, Duration(30*time.Second))
	orDefault(&c.Breaker.OpenFor, Duration(15*time.Second))

	for i := range c.Routes {
		c.Routes[i].applyDefaults()
	}
}

func (r *Route) applyDefaults() {
	orDefault(&r.Strategy, StrategyPriority)
	for i := range r.Targets {
		r.Targets[i].applyDefaults()
	}
}

func (t *Target) applyDefaults() { orDefault(&t.Weight, 1) }

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
