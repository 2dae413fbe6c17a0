package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
	"github.com/relais/relais/internal/translate"
)

type bodyBuf = bytes.Buffer

// maxUpstreamBody caps a non-streaming answer read into memory.
const maxUpstreamBody = 64 << 20

// minAttemptBudget is the least time worth starting an attempt with.
const minAttemptBudget = 5 * time.Millisecond

var (
	errTimeoutHeader     = errors.New("no response headers within timeouts.header")
	errTimeoutFirstToken = errors.New("no first token within timeouts.first_token")
	errTimeoutIdle       = errors.New("stream idle past timeouts.idle")
	errTimeoutAttempt    = errors.New("no answer within timeouts.attempt")
	errDeadline          = errors.New("request deadline (timeouts.request) reached")
)

type usage struct {
	input, output, cached, chars int
}

func (u usage) total() int { return u.input + u.output }

// failure remembers the last failed attempt, for the error the client gets
// when every target failed.
type failure struct {
	target *route.Target
	res    result
	retry  time.Duration
}

// attemptLoop walks the route's targets in order, following decide for each
// attempt, until one answer goes to the client or the budget is spent.
func (g *Gateway) attemptLoop(ctx context.Context, w http.ResponseWriter, rt *Runtime, req *request) {
	n := route.Needs{}
	if req.route.Restricted() {
		n = needs(req.body)
	}
	order := req.route.Order(req.order[:0], n)
	req.targets = order
	if req.route.Continue && req.p.stream && req.endpoint == provider.ChatCompletions {
		req.cont = &continuation{}
	}
	if len(order) == 0 {
		writeError(w, req.dialect, &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "no_target",
			Message: "No target of route '" + req.route.Name + "' can serve this request (all drained, or none has the capabilities it needs: tools, images, JSON schema or context size)."})
		req.status = http.StatusServiceUnavailable
		return
	}
	req.first = order[0]
	var last *failure
	var skipped []*route.Target // rare: allocated only when a breaker denies
	tried := false
	for _, t := range order {
		// Passive health first: a target it holds off must not take the
		// breaker's one half-open trial.
		permit := route.Denied
		if t.Admit(req.start) {
			permit = t.Breaker.Allow()
		}
		if permit == route.Denied {
			skipped = append(skipped, t)
			g.metrics.skip(t)
			continue
		}
		tried = true
		if g.tryTarget(ctx, w, rt, req, t, permit, &last) {
			return
		}
		if ctx.Err() != nil {
			break
		}
	}
	// Every target was open, cooling or down: try them anyway, in order, rather than fail untried.
	if !tried {
		for _, t := range skipped {
			if g.tryTarget(ctx, w, rt, req, t, route.Forced, &last) {
				return
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	g.writeExhausted(ctx, w, req, last)
}

// tryTarget makes up to retries.attempts attempts at t. It reports whether
// the request is finished (an answer went to the client).
func (g *Gateway) tryTarget(ctx context.Context, w http.ResponseWriter, rt *Runtime, req *request, t *route.Target, permit route.Permit, last **failure) bool {
	call, skip, err := buildCall(req, t)
	if err != nil {
		badRewrite(w, req, t, err)
		return true
	}
	if skip != nil {
		req.skip = skip
		return false
	}
	for try := 1; try <= rt.Retries.Attempts; try++ {
		if time.Until(req.deadline) < minAttemptBudget {
			return false
		}
		req.attempts++
		started := g.clk.Now()
		res := &req.res
		var up *upstream
		if req.p.stream {
			g.streamAttempt(ctx, w, rt, req, t, call, res)
		} else {
			up = g.plainAttempt(ctx, rt, req, t, call, res)
		}
		done, same, wait := g.settle(w, rt, req, t, permit, res, up, started)
		if done {
			if req.cont != nil && req.cont.pending {
				g.continueStream(ctx, w, rt, req, t)
			}
			return true
		}
		*last = &failure{target: t, res: *res, retry: res.retry}
		if !same || try == rt.Retries.Attempts || ctx.Err() != nil {
			return false
		}
		if wait == 0 {
			wait = backoff(rt.Retries.Backoff.D(), rt.Retries.MaxBackoff.D(), try)
		}
		if time.Until(req.deadline) < wait+minAttemptBudget || !sleep(ctx, wait) {
			return false
		}
		// A retry needs a fresh permit: the breaker may have opened meanwhile.
		if permit = t.Breaker.Allow(); permit == route.Denied {
			return false
		}
	}
	return false
}

// badRewrite answers a body that could not be rewritten for t.
func badRewrite(w http.ResponseWriter, req *request, t *route.Target, err error) {
	writeError(w, req.dialect, errInvalidRequest("cannot rewrite the request for "+t.Provider+": "+err.Error(), ""))
	req.status = http.StatusBadRequest
}

// buildCall builds the call to t, translating the body when t speaks
// another dialect than the client. A target that cannot take the request
// (an endpoint its dialect lacks, a feature the translation cannot carry)
// gets a nil call and skip says why; err is a body that cannot be rewritten.
func buildCall(req *request, t *route.Target) (call *provider.Call, skip *apiError, err error) {
	info := t.Upstream.Info()
	req.upDialect = info.Dialect
	var body []byte
	switch {
	case info.Dialect != provider.OpenAI && req.endpoint != provider.ChatCompletions:
		return nil, &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "unsupported_endpoint",
			Message: "No target of route '" + req.route.Name + "' serves /v1/" + req.endpoint.Path()[1:] + " (" + t.Provider + " speaks the " + info.Dialect.String() + " API, which has no such endpoint)."}, nil
	case info.Dialect == req.dialect:
		body, err = rewrite(req.body, t.Model, req.p, req.dialect == provider.OpenAI && req.endpoint == provider.ChatCompletions)
	case req.dialect == provider.OpenAI:
		body, err = translate.ChatToMessages(req.body, t.Model, info.DefaultMaxTokens)
	default:
		body, err = translate.MessagesToChat(req.body, t.Model)
	}
	if err != nil {
		if te, ok := errors.AsType[*translate.Error](err); ok {
			return nil, &apiError{Status: te.Status, Type: "invalid_request_error", Code: "unsupported_by_target",
				Message: "Target " + t.Provider + "/" + t.Model + " cannot take this request: " + te.Message}, nil
		}
		return nil, nil, err
	}
	return &provider.Call{Endpoint: req.endpoint, Model: t.Model, Body: body, Stream: req.p.stream, RequestID: req.id}, nil, nil
}

// settle applies an attempt's verdict: breaker, latency, the answer of a
// plain call, the observation. It returns whether the request is finished,
// and whether and after how long (0 = backoff) to try the same target again.
func (g *Gateway) settle(w http.ResponseWriter, rt *Runtime, req *request, t *route.Target, permit route.Permit, res *result, up *upstream, started time.Time) (done, same bool, wait time.Duration) {
	v := decide(*res, rt.Retries.MaxRetryAfter.D())
	latency := g.clk.Now().Sub(started)
	switch {
	case v.cool:
		t.Breaker.Cooldown(permit, v.cooling)
	default:
		t.Breaker.Record(permit, !v.failure)
	}
	if v.badConfig {
		g.log.Error("provider refused relais's credentials; check its api_key", "provider", t.Provider, "model", t.Model, "status", res.status)
	}
	if up != nil {
		if v.done && !res.committed {
			req.status = up.status
			g.writeUpstream(w, req, t, up)
		}
		g.putBuf(up.buf)
	}
	if v.done {
		req.served, req.outcome = t, res.outcome
		if req.status == 0 {
			req.status = res.status
		}
	}
	g.observe(req, t, *res, started, latency, v.done)
	return v.done, v.same, v.wait
}

// jsonHeader is the header of an answer relais rewrote as JSON.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// backoff is exponential with equal jitter: never zero, so never a tight loop.
func backoff(base, maxD time.Duration, try int) time.Duration {
	d := min(base<<min(try-1, 16), maxD)
	half := d / 2
	return half + rand.N(half+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// upstream is a whole non-streaming answer.
type upstream struct {
	status int
	header http.Header
	body   []byte
	buf    *bodyBuf // pooled storage of body, if any
}

// plainAttempt sends a non-streaming call and reads the whole answer.
func (g *Gateway) plainAttempt(ctx context.Context, rt *Runtime, req *request, t *route.Target, call *provider.Call, res *result) *upstream {
	timeout, cause := rt.Timeouts.Attempt.D(), errTimeoutAttempt
	if left := time.Until(req.deadline); left < timeout {
		timeout, cause = left, errDeadline
	}
	actx, cancel := context.WithTimeoutCause(ctx, timeout, cause)
	defer cancel()
	resp, err := t.Upstream.Do(actx, call)
	if err != nil {
		*res = transportResult(ctx, actx, err)
		return nil
	}
	defer resp.Body.Close()
	buf := g.getBuf()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxUpstreamBody)); err != nil {
		g.putBuf(buf)
		*res = transportResult(ctx, actx, err)
		return nil
	}
	body := buf.Bytes()
	*res = result{status: resp.StatusCode, retry: -1, rateLimit: readRateLimit(resp.Header, g.clk)}
	up := &upstream{status: resp.StatusCode, header: resp.Header, body: body, buf: buf}
	if resp.StatusCode == http.StatusOK {
		res.outcome = g.plainAnswer(req, t, up)
		return up
	}
	classifyStatus(res, resp.Header, body, g.clk.Now())
	return up
}

// plainAnswer reads a successful answer's usage, translates it into the
// client's dialect when needed, and says whether it holds anything.
func (g *Gateway) plainAnswer(req *request, t *route.Target, up *upstream) health.Outcome {
	switch {
	case req.endpoint == provider.Responses:
		req.usage = responsesUsage(view(up.body, "usage"))
		return health.OK
	case req.endpoint != provider.ChatCompletions:
		req.usage = readUsage(up.body)
		return health.OK
	case req.upDialect == provider.OpenAI && req.dialect == provider.OpenAI:
		u := readUsage(up.body)
		req.usage = u
		if u.chars == 0 && !view(up.body, "choices.0.message.tool_calls").Exists() {
			return health.EmptyOutput
		}
		return health.OK
	case req.upDialect == provider.Anthropic && req.dialect == provider.Anthropic:
		req.usage = anthropicUsage(view(up.body, "usage"))
		if !view(up.body, "content.0").Exists() {
			return health.EmptyOutput
		}
		return health.OK
	}
	var out []byte
	var u translate.Usage
	var err error
	if req.dialect == provider.OpenAI {
		out, u, err = translate.MessagesResponseToChat(up.body, t.Model, g.clk.Now().Unix())
	} else {
		out, u, err = translate.ChatResponseToMessages(up.body, t.Model)
	}
	if err != nil {
		g.metrics.malformed(t)
		return health.EmptyOutput
	}
	up.body = out
	req.usage = usage{input: u.Input, output: u.Output, cached: u.CachedInput}
	if u.Output == 0 {
		return health.EmptyOutput
	}
	return health.OK
}

// anthropicUsage reads an Anthropic usage object; cached input counts as input.
func anthropicUsage(r gjson.Result) usage {
	cached := int(r.Get("cache_read_input_tokens").Int())
	return usage{
		input:  int(r.Get("input_tokens").Int()) + cached + int(r.Get("cache_creation_input_tokens").Int()),
		output: int(r.Get("output_tokens").Int()),
		cached: cached,
	}
}

// responsesUsage reads a Responses API usage object.
func responsesUsage(r gjson.Result) usage {
	return usage{
		input:  int(r.Get("input_tokens").Int()),
		output: int(r.Get("output_tokens").Int()),
		cached: int(r.Get("input_tokens_details.cached_tokens").Int()),
	}
}

// classifyStatus fills the outcome of an HTTP error answer.
func classifyStatus(res *result, h http.Header, body []byte, now time.Time) {
	res.retry = parseRetryAfter(h, now)
	switch {
	case res.status == http.StatusTooManyRequests:
		res.outcome = health.HTTP429
	case res.status >= 500:
		res.outcome = health.HTTP5xx
	default:
		res.outcome = health.HTTP4xx
		if res.status == http.StatusBadRequest {
			code, msg := view(body, "error.code").Str, view(body, "error.message").Str
			res.contextLength = code == "context_length_exceeded" ||
				strings.Contains(msg, "maximum context length") || strings.Contains(msg, "prompt is too long")
		}
	}
}

// transportResult classifies an error before or while reading an answer.
// reqCtx ends only when the client goes away; timeouts are the attempt's.
func transportResult(reqCtx, attemptCtx context.Context, err error) result {
	res := result{retry: -1, err: err, rateLimit: health.NoRateLimit}
	if reqCtx.Err() != nil {
		res.outcome = health.ClientCanceled
		return res
	}
	switch context.Cause(attemptCtx) {
	case errTimeoutHeader:
		res.outcome = health.TimeoutHeader
	case errTimeoutFirstToken:
		res.outcome = health.TimeoutFirstToken
	case errTimeoutIdle:
		res.outcome = health.TimeoutIdle
	case errTimeoutAttempt, errDeadline:
		res.outcome = health.TimeoutAttempt
	default:
		res.outcome = health.ConnError
	}
	return res
}

func readUsage(body []byte) usage {
	u := usageOf(view(body, "usage"))
	u.chars = len(view(body, "choices.0.message.content").Str)
	return u
}

// usageOf reads an OpenAI usage object.
func usageOf(r gjson.Result) usage {
	var u usage
	r.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			u.input = int(v.Int())
		case "completion_tokens":
			u.output = int(v.Int())
		case "prompt_tokens_details":
			u.cached = int(v.Get("cached_tokens").Int())
		}
		return true
	})
	return u
}

// writeUpstream sends a whole upstream answer to the client.
func (g *Gateway) writeUpstream(w http.ResponseWriter, req *request, t *route.Target, up *upstream) {
	if up.status != http.StatusOK && req.upDialect != req.dialect {
		// An error goes to each client in its own API's shape.
		if req.dialect == provider.OpenAI {
			up.status, up.body = translate.ErrorToOpenAI(up.status, up.body)
		} else {
			up.status, up.body = translate.ErrorToAnthropic(up.status, up.body)
		}
		up.header = jsonHeader
	}
	h := w.Header()
	if ct := up.header.Get("Content-Type"); ct != "" {
		req.setHeader(h, "Content-Type", ct)
	} else {
		req.setHeader(h, "Content-Type", "application/json")
	}
	req.setHeader(h, "Content-Length", strconv.Itoa(len(up.body)))
	if up.status != http.StatusOK {
		if ra := up.header.Get("Retry-After"); ra != "" {
			h.Set("Retry-After", ra)
		}
	}
	setServedBy(h, req, t)
	w.WriteHeader(up.status)
	_, _ = w.Write(up.body)
}

func setServedBy(h http.Header, req *request, t *route.Target) {
	req.setHeader(h, "X-Relais-Provider", t.Provider)
	req.setHeader(h, "X-Relais-Model", t.Model)
	req.setHeader(h, "X-Relais-Attempts", strconv.Itoa(req.attempts))
}

// writeExhausted answers when no target served the request.
func (g *Gateway) writeExhausted(ctx context.Context, w http.ResponseWriter, req *request, last *failure) {
	h := w.Header()
	h.Set("X-Relais-Attempts", strconv.Itoa(req.attempts))
	if ctx.Err() != nil {
		req.status, req.outcome = 499, health.ClientCanceled
		w.WriteHeader(499)
		return
	}
	e := &apiError{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_unavailable"}
	switch {
	case last == nil && req.skip != nil:
		e = req.skip
	case last == nil:
		e.Status, e.Code = http.StatusServiceUnavailable, "no_target_available"
		e.Message = "No target of route '" + req.route.Name + "' could be tried within the request deadline."
	case last.res.outcome == health.HTTP429:
		e.Status, e.Type, e.Code = http.StatusTooManyRequests, "requests", "rate_limit_exceeded"
		e.Message = "Every provider of route '" + req.route.Name + "' is rate limiting; last: " + describe(last) + "."
		setRetryAfter(h, max(last.retry, time.Second))
	case time.Until(req.deadline) < minAttemptBudget:
		e.Status, e.Code = http.StatusGatewayTimeout, "deadline_exceeded"
		e.Message = "Route '" + req.route.Name + "' did not answer within the request deadline; last: " + describe(last) + "."
	default:
		e.Message = "Every target of route '" + req.route.Name + "' failed; last: " + describe(last) + "."
	}
	req.status = e.Status
	if last != nil {
		req.outcome, req.last = last.res.outcome, last.target
	}
	writeError(w, req.dialect, e)
}

func describe(f *failure) string {
	s := f.target.Provider + "/" + f.target.Model + " " + f.res.outcome.String()
	if f.res.status != 0 {
		s += " (HTTP " + strconv.Itoa(f.res.status) + ")"
	}
	return s
}

// observe publishes the attempt's Observation; it never blocks.
func (g *Gateway) observe(req *request, t *route.Target, res result, started time.Time, latency time.Duration, final bool) {
	o := health.Observation{
		Time: started, RequestID: req.id, Route: req.route.Name, Provider: t.Provider, Model: t.Model,
		Key: req.client.Name, Attempt: req.attempts, Final: final, Outcome: res.outcome, Status: res.status,
		Latency: latency, Elapsed: started.Add(latency).Sub(req.start), Stream: req.p.stream,
		Fallback: final && t != req.first, RateLimit: res.rateLimit,
	}
	if final {
		o.TTFT = req.ttft
		o.InputTokens, o.OutputTokens, o.CachedTokens, o.OutputChars = req.usage.input, req.usage.output, req.usage.cached, req.usage.chars
	}
	g.metrics.attempt(t, res.outcome)
	g.obs.Publish(o)
}
