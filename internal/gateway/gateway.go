package gateway

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/config"
	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/limit"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
)

// Runtime is one config generation of everything the hot path reads. A reload
// builds a new Runtime and swaps it in atomically; requests already running
// finish on the one they started with.
type Runtime struct {
	Router    *route.Router
	Keys      *limit.Keys
	Admission *limit.Admission
	Timeouts  config.Timeouts
	Retries   config.Retries
	MaxBody   int64
	LogBodies bool
}

// Gateway is the AI API handler.
type Gateway struct {
	rt      atomic.Pointer[Runtime]
	obs     *health.Queue
	metrics *Metrics
	log     *slog.Logger
	clk     clock.Clock
	bufs    sync.Pool
}

// New returns a gateway serving rt.
func New(rt *Runtime, obs *health.Queue, m *Metrics, log *slog.Logger, clk clock.Clock) *Gateway {
	g := &Gateway{obs: obs, metrics: m, log: log, clk: clk}
	g.rt.Store(rt)
	return g
}

// Swap installs a new config generation.
func (g *Gateway) Swap(rt *Runtime) { g.rt.Store(rt) }

// Runtime returns the config generation in use.
func (g *Gateway) Runtime() *Runtime { return g.rt.Load() }

// Handler returns the AI API routes.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, provider.ChatCompletions, provider.OpenAI)
	})
	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, provider.ChatCompletions, provider.Anthropic)
	})
	mux.HandleFunc("POST /v1/responses", func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, provider.Responses, provider.OpenAI)
	})
	mux.HandleFunc("POST /v1/embeddings", func(w http.ResponseWriter, r *http.Request) {
		g.serve(w, r, provider.Embeddings, provider.OpenAI)
	})
	mux.HandleFunc("GET /v1/models", g.models)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		d := provider.OpenAI
		if strings.HasPrefix(r.URL.Path, "/v1/messages") || r.Header.Get("Anthropic-Version") != "" {
			d = provider.Anthropic
		}
		writeError(w, d, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "unknown_url",
			Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ". relais serves POST /v1/chat/completions, POST /v1/messages, POST /v1/responses, POST /v1/embeddings and GET /v1/models."})
	})
	return mux
}

// request is the state of one client request across its attempts.
type request struct {
	id       string
	start    time.Time
	deadline time.Time
	endpoint provider.Endpoint
	dialect  provider.Dialect // the client's
	// upDialect is the dialect of the target being tried.
	upDialect provider.Dialect
	// skip says why the last target passed over could not take the request.
	skip     *apiError
	client   *limit.Client
	route    *route.Route
	body     []byte
	p        peeked
	attempts int
	first    *route.Target // the request's first choice
	// what went to the client
	status  int
	served  *route.Target
	usage   usage
	ttft    time.Duration
	outcome health.Outcome
	elapsed time.Duration
	last    *route.Target // the last target tried when none served
	// hdr backs the response header values relais sets, so setting them costs
	// no allocation of its own.
	hdr  []string
	hbuf [8]string
	// res is the current attempt's result, here rather than in the attempt
	// loop's frame, which a stream keeps on the stack.
	res result
	// targets is the route's targets for this request, in the order tried.
	targets []*route.Target
	// cont is set on streams of routes with continue_streams.
	cont *continuation
	// order backs the attempt loop's target list.
	order [route.MaxTargets]*route.Target
}

// setHeader sets a canonical header key to v.
func (req *request) setHeader(h http.Header, key, v string) {
	if len(req.hdr) == cap(req.hdr) {
		h[key] = []string{v}
		return
	}
	req.hdr = append(req.hdr, v)
	n := len(req.hdr)
	h[key] = req.hdr[n-1 : n : n]
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, ep provider.Endpoint, d provider.Dialect) {
	rt := g.rt.Load()
	req := &request{id: newRequestID(), start: g.clk.Now(), endpoint: ep, dialect: d}
	req.hdr = req.hbuf[:0]
	req.setHeader(w.Header(), "X-Relais-Request-Id", req.id)
	defer g.accessLog(r.Context(), req, rt.LogBodies)

	// The checks live in admit so that their temporaries are not part of
	// this frame, which stays on the stack for a stream's whole life.
	release, buf := g.admit(w, r, rt, req)
	defer g.putBuf(buf)
	if release == nil {
		return
	}
	defer release()
	if req.route == nil {
		return
	}
	g.attemptLoop(r.Context(), w, rt, req)

	if req.usage.total() > 0 {
		req.client.Spend(g.clk.Now(), req.usage.total())
	}
}

// admit authenticates the client, takes an admission slot, applies the
// client's limits, reads and peeks the body and finds the route. It returns
// the slot's release (nil when none was taken) and the body's buffer; a
// request that may go on has req.route set, any other has been answered.
func (g *Gateway) admit(w http.ResponseWriter, r *http.Request, rt *Runtime, req *request) (func(), *bodyBuf) {
	client, ok := rt.Keys.Authenticate(r)
	if !ok {
		g.fail(w, req, errUnauthorized(), "unauthorized")
		return nil, nil
	}
	req.client = client

	release, err := rt.Admission.Acquire(r.Context())
	if err != nil {
		g.reject(w, req, err)
		return nil, nil
	}

	d := client.Admit(req.start)
	d.SetHeaders(w.Header())
	if !d.Allowed {
		setRetryAfter(w.Header(), d.RetryAfter)
		g.fail(w, req, &apiError{Status: http.StatusTooManyRequests, Type: d.Limit, Code: "rate_limit_exceeded",
			Message: "Rate limit reached for key " + client.Name + " on " + d.Limit + " per minute. Retry after the time in Retry-After."}, "rate_limited")
		return release, nil
	}

	body, buf, aerr := g.readBody(w, r, rt.MaxBody)
	if aerr != nil {
		g.fail(w, req, aerr, "")
		return release, buf
	}
	req.body = body
	p, aerr := peek(body)
	if aerr != nil {
		g.fail(w, req, aerr, "")
		return release, buf
	}
	if req.endpoint == provider.Embeddings {
		p.stream = false
	}
	req.p = p
	rte, ok := rt.Router.Lookup(p.model)
	if !ok {
		g.fail(w, req, &apiError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found", Param: "model",
			Message: "The model '" + p.model + "' does not exist on this gateway. GET /v1/models lists the models you can use."}, "")
		return release, buf
	}
	if !client.Allows(rte.Name) {
		g.fail(w, req, &apiError{Status: http.StatusForbidden, Type: "invalid_request_error", Code: "model_not_allowed", Param: "model",
			Message: "The key " + client.Name + " may not use the model '" + p.model + "'."}, "")
		return release, buf
	}
	req.route = rte
	// The deadline is enforced by real timers (each attempt's own context),
	// so it is real time; g.clk, which tests may fake, only stamps and measures.
	// The request's context ends only when the client goes away.
	req.deadline = time.Now().Add(rt.Timeouts.Request.D())
	return release, buf
}

// fail answers a request refused before any attempt.
func (g *Gateway) fail(w http.ResponseWriter, req *request, e *apiError, reason string) {
	req.status = e.Status
	if reason != "" {
		g.metrics.rejected(reason)
	}
	writeError(w, req.dialect, e)
}

func errUnauthorized() *apiError {
	return &apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error", Code: "invalid_api_key",
		Message: "Incorrect or missing API key. Send your relais key as 'Authorization: Bearer <key>'."}
}

func (g *Gateway) reject(w http.ResponseWriter, req *request, err error) {
	var rej *limit.Rejected
	if errors.As(err, &rej) {
		setRetryAfter(w.Header(), rej.RetryAfter())
		g.fail(w, req, &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "overloaded",
			Message: "relais is at capacity (" + rej.Error() + "). Retry after the time in Retry-After."}, "overloaded")
		return
	}
	// The client went away while queued: nobody reads the answer.
	g.metrics.rejected("client_canceled")
	req.status = 499
	w.WriteHeader(499)
}

// maxPooledBuf keeps one huge body from pinning its memory in the pool.
const maxPooledBuf = 1 << 20

func (g *Gateway) getBuf() *bodyBuf {
	if b, ok := g.bufs.Get().(*bodyBuf); ok {
		b.Reset()
		return b
	}
	return new(bodyBuf)
}

func (g *Gateway) putBuf(b *bodyBuf) {
	if b != nil && b.Cap() <= maxPooledBuf {
		g.bufs.Put(b)
	}
}

// readBody reads the whole body under the size cap into a pooled buffer.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request, limitBytes int64) ([]byte, *bodyBuf, *apiError) {
	buf := g.getBuf()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limitBytes)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, buf, &apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
				Message: "Request body is larger than the " + strconv.FormatInt(limitBytes, 10) + " bytes this gateway accepts."}
		}
		return nil, buf, errInvalidRequest("could not read the request body: "+err.Error(), "")
	}
	return buf.Bytes(), buf, nil
}

func (g *Gateway) models(w http.ResponseWriter, r *http.Request) {
	rt := g.rt.Load()
	w.Header().Set("X-Relais-Request-Id", newRequestID())
	// Anthropic's SDKs always send anthropic-version; OpenAI's never do.
	d := provider.OpenAI
	if r.Header.Get("Anthropic-Version") != "" {
		d = provider.Anthropic
	}
	client, ok := rt.Keys.Authenticate(r)
	if !ok {
		writeError(w, d, errUnauthorized())
		return
	}
	var names []string
	for _, name := range rt.Router.Names() {
		if client.Allows(name) {
			names = append(names, name)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if d == provider.Anthropic {
		_ = json.NewEncoder(w).Encode(anthropicModels(names))
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, name := range names {
		list.Data = append(list.Data, model{ID: name, Object: "model", OwnedBy: "relais"})
	}
	_ = json.NewEncoder(w).Encode(list)
}

// anthropicModelList is GET /v1/models in Anthropic's shape.
type anthropicModelList struct {
	Data    []anthropicModel `json:"data"`
	HasMore bool             `json:"has_more"`
	FirstID *string          `json:"first_id"`
	LastID  *string          `json:"last_id"`
}

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func anthropicModels(names []string) anthropicModelList {
	l := anthropicModelList{Data: []anthropicModel{}}
	for _, n := range names {
		// Routes have no creation date; the epoch is a valid RFC 3339 time.
		l.Data = append(l.Data, anthropicModel{Type: "model", ID: n, DisplayName: n, CreatedAt: "1970-01-01T00:00:00Z"})
	}
	if len(names) > 0 {
		l.FirstID, l.LastID = &names[0], &names[len(names)-1]
	}
	return l
}
