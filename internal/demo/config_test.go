package demo

import (
	"net"
	"reflect"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/sim"
)

var simKinds = map[string]func() config.ProviderSpec{"sim": func() config.ProviderSpec { return new(sim.Spec) }}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"/tmp/relais-demo-1", `C:\Users\Zoë\AppData\Local\Temp\relais demo: "x"`} {
		data, err := Config(dir)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, data)
		}
		c, err := config.Parse(data, simKinds)
		if err != nil {
			t.Fatalf("the config loader rejects the demo config:\n%v\n%s", err, data)
		}
		if c.DataDir != dir {
			t.Errorf("data_dir = %q, want %q", c.DataDir, dir)
		}
		for _, addr := range []string{c.Listen, c.Admin.Listen} {
			if host, _, _ := net.SplitHostPort(addr); !net.ParseIP(host).IsLoopback() {
				t.Errorf("listener %q is not loopback", addr)
			}
		}
		if c.Log.Format != "text" || c.Breaker.MinRequests != 5 {
			t.Errorf("log format %q, breaker %+v", c.Log.Format, c.Breaker)
		}
		script := Timeline()
		names := map[string]bool{}
		for _, p := range c.Providers {
			names[p.Name] = true
			spec, ok := p.Spec.(*sim.Spec)
			if !ok {
				t.Fatalf("provider %s: spec %T, want *sim.Spec", p.Name, p.Spec)
			}
			if want := script.Schedule(p.Name); !reflect.DeepEqual(spec.Schedule, want) {
				t.Errorf("provider %s: schedule %+v, want the script's %+v", p.Name, spec.Schedule, want)
			}
		}
		if !names[Primary] || !names[Backup] || !names[Embedder] {
			t.Errorf("providers %v", names)
		}
		routes := map[string][]string{}
		for _, r := range c.Routes {
			for _, tg := range r.Targets {
				routes[r.Model] = append(routes[r.Model], tg.Provider)
			}
		}
		if want := map[string][]string{ChatRoute: {Primary, Backup}, EmbedRoute: {Embedder}}; !reflect.DeepEqual(routes, want) {
			t.Errorf("routes %v, want %v", routes, want)
		}
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[string]string{"0s": "0s", "4m": "4m", "1m30s": "1m30s", "2h": "2h", "1h0m5s": "1h0m5s", "250ms": "250ms"} {
		v, _ := time.ParseDuration(d)
		if got := shortDuration(v); got != want {
			t.Errorf("shortDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
