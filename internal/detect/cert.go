package detect

import (
	"time"

	"github.com/relais/relais/internal/event"
)

// certificate is what the last tls or https probe of a check saw.
type certificate struct {
	notAfter time.Time
	firing   bool
	level    event.Severity
	since    time.Time
}

// Certificate takes the expiry of the certificate a check's probe saw.
// Under CertWarning left it forecasts a warning, under CertCritical a
// critical; a renewed certificate (a later notAfter beyond CertWarning)
// resolves it. The level is published again when it changes.
func (d *Detector) Certificate(check string, notAfter time.Time) {
	now := d.clk.Now()
	d.cmu.Lock()
	c := d.certs[check]
	if c == nil {
		c = &certificate{}
		d.certs[check] = c
	}
	c.notAfter = notAfter
	evs := d.judgeCert(nil, check, c, now)
	d.cmu.Unlock()
	d.emit(evs)
}

// judgeCert is called with cmu held, from Certificate and from sweeps (a
// certificate draws nearer to expiry between probes too).
func (d *Detector) judgeCert(evs []event.Event, check string, c *certificate, now time.Time) []event.Event {
	left := c.notAfter.Sub(now)
	var level event.Severity
	switch {
	case left < d.opt.CertCritical:
		level = event.Critical
	case left < d.opt.CertWarning:
		level = event.Warning
	default:
		if !c.firing {
			return evs
		}
		c.firing = false
	}
	if c.firing && level == c.level {
		return evs
	}
	resolved := level == event.Info
	if !resolved {
		if !c.firing {
			c.since = now
		}
		c.firing, c.level = true, level
	}
	ev := Forecast{
		Kind: ForecastCertificate, Subject: event.Subject{Kind: "check", Name: check}, Signal: SignalExpiry,
		Current: left.Seconds(), Threshold: d.opt.CertWarning.Seconds(), BreachAt: c.notAfter,
		Since: c.since, At: now, Level: c.level, Resolved: resolved,
	}
	ev.Text = certText(ev)
	return append(evs, ev)
}
