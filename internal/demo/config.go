package demo

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/provider/sim"
)

// simProvider is one provider of the demo config. Its schedule is left out:
// Config derives it from the script.
type simProvider struct {
	Name  string
	About string
	Spec  sim.Spec
}

func simProviders() []simProvider {
	ms := func(n int) config.Duration { return config.Duration(time.Duration(n) * time.Millisecond) }
	return []simProvider{
		{
			Name:  Primary,
			About: "The provider chat normally uses: quick, and the first target of the chat route.",
			Spec:  sim.Spec{Latency: ms(200), TTFT: ms(400), TokensPerSecond: 50, Seed: 1, Models: []string{"sim-large", "sim-small"}},
		},
		{
			Name:  Backup,
			About: "Another vendor, slower: it serves chat when primary cannot.",
			Spec:  sim.Spec{Latency: ms(350), TTFT: ms(700), TokensPerSecond: 30, Seed: 2, Models: []string{"sim-medium"}},
		},
		{
			Name:  Embedder,
			About: "Embeddings for search.",
			Spec:  sim.Spec{Latency: ms(60), Seed: 3, Models: []string{"sim-embed"}},
		},
	}
}

// Config returns the demo's relais.yaml, with data kept in dataDir. It is
// meant to be read (relais demo --print-config), so it is written as a person
// would write it, comments included.
func Config(dataDir string) ([]byte, error) {
	script := Timeline()
	providers := simProviders()
	funcs := template.FuncMap{
		// model is the model a route asks of a provider: its first.
		"model": func(name string) (string, error) {
			for _, p := range providers {
				if p.Name == name {
					return p.Spec.Models[0], nil
				}
			}
			return "", fmt.Errorf("no demo provider %q", name)
		},
		"dur":      func(d config.Duration) string { return shortDuration(d.D()) },
		"quote":    strconv.Quote, // a Go quoted string is a YAML double-quoted scalar
		"join":     func(ss []string) string { return strings.Join(ss, ", ") },
		"schedule": script.Schedule,
		"period":   flowPeriod,
		"span":     func(p Phase) string { return shortDuration(p.From) + "-" + shortDuration(p.To) },
		"phase": func(from config.Duration) string {
			i, p := script.At(from.D())
			return fmt.Sprintf("phase %d/%d: %s", i+1, len(script.Phases), p.Name)
		},
	}
	t, err := template.New("relais.yaml").Funcs(funcs).Parse(configTemplate)
	if err != nil {
		return nil, fmt.Errorf("demo config template: %w", err)
	}
	var b bytes.Buffer
	err = t.Execute(&b, map[string]any{
		"DataDir":    dataDir,
		"Cycle":      shortDuration(script.Cycle()),
		"Phases":     script.Phases,
		"Providers":  providers,
		"Primary":    Primary,
		"Backup":     Backup,
		"Embedder":   Embedder,
		"ChatRoute":  ChatRoute,
		"EmbedRoute": EmbedRoute,
	})
	if err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	return b.Bytes(), nil
}

const configTemplate = `# relais demo: three simulated providers, light synthetic traffic and a
# script of failures that repeats every {{.Cycle}}. To run relais for real, keep
# the shape and replace the sim providers with real ones (type: openai).
#
# The script, phase by phase (the log tells each as it begins):
{{- range .Phases}}
#   {{printf "%-10s" (span .)}} {{.Name}}
{{- end}}

listen: 127.0.0.1:8080
admin:
  listen: 127.0.0.1:9090 # on loopback the admin API needs no token
data_dir: {{quote .DataDir}}
log:
  format: text

providers:
{{- range $i, $_ := .Providers}}
{{- if $i}}
{{end}}
  # {{.About}}
  - name: {{.Name}}
    type: sim
    latency: {{dur .Spec.Latency}} # until the response headers
{{- if .Spec.TTFT}}
    ttft: {{dur .Spec.TTFT}} # until the first token of a stream
{{- end}}
{{- if .Spec.TokensPerSecond}}
    tokens_per_second: {{.Spec.TokensPerSecond}}
{{- end}}
    seed: {{.Spec.Seed}}
    models: [{{join .Spec.Models}}]
{{- $schedule := schedule .Name}}
{{- if $schedule.Periods}}
    # This provider's part of the demo script.
    schedule:
      cycle: {{dur $schedule.Cycle}}
      periods:
{{- range $schedule.Periods}}
        - {{period .}} # {{phase .From}}
{{- end}}
{{- end}}
{{- end}}

routes:
  # Clients ask for model "{{.ChatRoute}}": {{.Primary}} first, {{.Backup}} when {{.Primary}} fails.
  - model: {{.ChatRoute}}
    strategy: priority
    # A stream cut after it began goes on on the next target: one whole answer.
    continue_streams: true
    targets:
      - {provider: {{.Primary}}, model: {{model .Primary}}}
      - {provider: {{.Backup}}, model: {{model .Backup}}}
  - model: {{.EmbedRoute}}
    strategy: priority
    targets:
      - {provider: {{.Embedder}}, model: {{model .Embedder}}}

# Breakers that open and close within seconds, so that failover shows at
# demo speed; production values usually react more slowly.
breaker:
  failure_ratio: 0.5
  min_requests: 5
  window: 10s
  open_for: 10s
`

// flowPeriod writes a period as a one-line YAML mapping, leaving out what is
// unset.
func flowPeriod(p sim.Period) string {
	fields := []string{"from: " + shortDuration(p.From.D()), "to: " + shortDuration(p.To.D()), "mode: " + string(p.Mode)}
	if p.Status != 0 {
		fields = append(fields, fmt.Sprintf("status: %d", p.Status))
	}
	if p.RetryAfter != 0 {
		fields = append(fields, "retry_after: "+shortDuration(p.RetryAfter.D()))
	}
	if p.Latency != 0 {
		fields = append(fields, "latency: "+shortDuration(p.Latency.D()))
	}
	return "{" + strings.Join(fields, ", ") + "}"
}

// shortDuration writes d as a person would: "4m" and "1m30s" rather than
// "4m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
