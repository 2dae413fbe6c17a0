package gateway

import (
	"context"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"

	"github.com/relais/relais/internal/provider"
)

// newRequestID returns a random id such as "req_9f8e7d6c5b4a3f2e1d0c9b8a".
func newRequestID() string {
	var raw [12]byte
	for i := 0; i < len(raw); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < len(raw); j++ {
			raw[i+j] = byte(v >> (8 * j))
		}
	}
	var out [4 + 24]byte
	copy(out[:], "req_")
	hex.Encode(out[4:], raw[:])
	return string(out[:])
}

// accessLog writes the request's one line, and its metrics. Prompts and
// completions are logged only when the operator turned log.bodies on.
func (g *Gateway) accessLog(ctx context.Context, req *request, bodies bool) {
	req.elapsed = g.clk.Now().Sub(req.start)
	if req.status == 0 {
		req.status = 499 // nothing was written: the client went away first
	}
	g.metrics.request(req)
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", req.id),
		slog.String("endpoint", req.endpoint.String()),
		slog.Int("status", req.status),
		slog.Int("attempts", req.attempts),
		slog.Bool("stream", req.p.stream),
		slog.Float64("latency_ms", float64(req.elapsed.Microseconds())/1000),
	)
	if req.client != nil {
		attrs = append(attrs, slog.String("key", req.client.Name))
	}
	if req.route != nil {
		attrs = append(attrs, slog.String("route", req.route.Name))
	}
	if req.served != nil {
		attrs = append(attrs,
			slog.String("provider", req.served.Provider),
			slog.String("model", req.served.Model),
			slog.Bool("fallback", req.served != req.first),
			slog.String("outcome", req.outcome.String()),
			slog.Int("input_tokens", req.usage.input),
			slog.Int("output_tokens", req.usage.output),
		)
	} else if req.last != nil {
		attrs = append(attrs,
			slog.String("last_provider", req.last.Provider),
			slog.String("last_model", req.last.Model),
			slog.String("outcome", req.outcome.String()),
		)
	}
	if req.dialect != provider.OpenAI || (req.served != nil && req.upDialect != req.dialect) {
		attrs = append(attrs, slog.String("dialect", req.dialect.String()), slog.String("upstream_dialect", req.upDialect.String()))
	}
	if c := req.cont; c != nil && c.from != nil {
		attrs = append(attrs, slog.String("continued_from", c.from.Provider+"/"+c.from.Model))
	}
	if req.ttft > 0 {
		attrs = append(attrs, slog.Float64("ttft_ms", float64(req.ttft.Microseconds())/1000))
	}
	if bodies && req.body != nil {
		attrs = append(attrs, slog.String("request_body", string(req.body)))
	}
	level := slog.LevelInfo
	if req.status >= 500 {
		level = slog.LevelWarn
	}
	g.log.LogAttrs(ctx, level, "request", attrs...)
}
