package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/clock"
)

// maxBody caps request bodies like a real provider would.
const maxBody = 8 << 20

// maxDimensions bounds the embedding size a request may ask for.
const maxDimensions = 4096

// Server is the simulated provider's HTTP API. In the openai dialect:
// POST /chat/completions, POST /embeddings and GET /models; in the anthropic
// dialect: POST /messages and GET /models; either also under /v1. Delays use
// real timers; only the schedule reads the injected clock, so tests move
// between periods with a clock.Fake and still see real streaming.
type Server struct {
	spec  Spec
	clk   clock.Clock
	start time.Time
	ids   atomic.Uint64

	mu    sync.Mutex
	draws *rand.Rand // error_rate draws, repeatable for a seed
}

var _ http.Handler = (*Server)(nil)

// NewServer returns a server for spec whose schedule starts now by clk.
func NewServer(spec *Spec, clk clock.Clock) *Server {
	return &Server{
		spec:  spec.withDefaults(),
		clk:   clk,
		start: clk.Now(),
		draws: rand.New(rand.NewPCG(uint64(spec.Seed), 0)),
	}
}

// Start is the origin of the schedule: the server's creation time.
func (s *Server) Start() time.Time { return s.start }

// Mode returns the schedule's period in force at now, if any.
func (s *Server) Mode(now time.Time) (Period, bool) {
	return s.spec.Schedule.at(now.Sub(s.start))
}

// handler answers one call to an endpoint, after the faults that do not
// depend on the request.
type handler func(http.ResponseWriter, *http.Request, []byte, plan)

// endpoint is one operation of the simulated API.
type endpoint struct {
	method string
	handle handler
	// chat is the endpoint that streams, and so can fail in band.
	chat bool
}

// route returns the endpoint at path (without /v1) in the server's dialect.
func (s *Server) route(path string) (endpoint, bool) {
	if s.spec.Dialect == dialectAnthropic {
		switch path {
		case "/messages":
			return endpoint{http.MethodPost, s.messages, true}, true
		case "/models":
			return endpoint{http.MethodGet, s.anthropicModels, false}, true
		}
		return endpoint{}, false
	}
	switch path {
	case "/chat/completions":
		return endpoint{http.MethodPost, s.chat, true}, true
	case "/embeddings":
		return endpoint{http.MethodPost, s.embeddings, false}, true
	case "/models":
		return endpoint{http.MethodGet, s.models, false}, true
	}
	return endpoint{}, false
}

// ServeHTTP answers one call, misbehaving as the schedule's period in force
// (or error_rate) says.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	path := strings.TrimPrefix(r.URL.Path, "/v1")
	ep, ok := s.route(path)
	if !ok {
		s.fail(w, http.StatusNotFound, "unknown_url", fmt.Sprintf("Unknown request URL: %s %s.", r.Method, r.URL.Path))
		return
	}
	if r.Method != ep.method {
		w.Header().Set("Allow", ep.method)
		s.fail(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("Method %s is not allowed for %s.", r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.fail(w, http.StatusRequestEntityTooLarge, "", "Request body too large.")
		}
		// Otherwise the client went away mid-body: nobody to answer.
		return
	}
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = "req_sim_" + strconv.FormatUint(s.ids.Add(1), 10)
	}
	w.Header().Set("X-Request-Id", id)
	if s.spec.Dialect == dialectAnthropic {
		w.Header().Set("Request-Id", id)
	}

	// Faults that do not depend on the request come first: a provider that is
	// down does not read your JSON.
	p, _ := s.Mode(s.clk.Now())
	switch p.Mode {
	case Down:
		s.fail(w, p.Status, "", "The simulated provider is down.")
		return
	case RateLimit:
		s.rateLimit(w, p.RetryAfter.D())
		return
	case Hang:
		<-r.Context().Done()
		return
	case InbandError:
		// Only a stream can carry an error after its 200; any other call
		// fails as a provider that is down.
		if !ep.chat || !gjson.GetBytes(body, "stream").Bool() {
			s.fail(w, http.StatusInternalServerError, "", "The simulated provider failed.")
			return
		}
	}
	if p.Mode == "" && s.randomError() {
		s.fail(w, s.spec.ErrorStatus, "", "The simulated provider failed at random.")
		return
	}
	if ep.method == http.MethodPost && !gjson.ValidBytes(body) {
		s.fail(w, http.StatusBadRequest, "",
			"We could not parse the JSON body of your request. The body must be a valid JSON object.")
		return
	}
	ep.handle(w, r, body, s.plan(arrived, p))
}

// fail answers an error in the server's dialect. code is OpenAI's error
// code ("" is null); Anthropic's errors have none.
func (s *Server) fail(w http.ResponseWriter, status int, code, msg string) {
	if s.spec.Dialect == dialectAnthropic {
		writeAnthropicError(w, status, msg)
		return
	}
	writeError(w, status, errorType(status), code, msg)
}

// rateLimit answers 429 in the server's dialect.
func (s *Server) rateLimit(w http.ResponseWriter, retryAfter time.Duration) {
	if s.spec.Dialect == dialectAnthropic {
		writeAnthropicRateLimit(w, retryAfter, s.clk.Now())
		return
	}
	writeRateLimit(w, retryAfter)
}

func (s *Server) randomError() bool {
	if s.spec.ErrorRate == 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draws.Float64() < s.spec.ErrorRate
}

// plan is how one answer goes: its fault and when its parts are due, as
// offsets from the request's arrival.
type plan struct {
	mode     Mode
	t0       time.Time
	headers  time.Duration // response headers
	first    time.Duration // first content token
	interval time.Duration // between tokens
}

func (s *Server) plan(arrived time.Time, p Period) plan {
	extra := time.Duration(0)
	if p.Mode == Slow {
		extra = p.Latency.D()
	}
	pl := plan{
		mode:    p.Mode,
		t0:      arrived,
		headers: s.spec.Latency.D() + extra,
		first:   max(s.spec.TTFT.D(), s.spec.Latency.D()) + extra,
	}
	if s.spec.TokensPerSecond > 0 {
		pl.interval = time.Duration(float64(time.Second) / s.spec.TokensPerSecond)
	}
	return pl
}

// token returns when token i (0-based) is due.
func (pl plan) token(i int) time.Duration { return pl.first + time.Duration(i)*pl.interval }

// wait sleeps until offset d after the request's arrival. It reports false
// when the request ended first.
func (pl plan) wait(ctx context.Context, d time.Duration) bool {
	left := time.Until(pl.t0.Add(d))
	if left <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(left)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// cut drops the connection without finishing the answer, as a provider whose
// process dies does. Panicking with http.ErrAbortHandler is net/http's way to
// abort a response: the connection closes (HTTP/2: the stream is reset) with
// no end of body and nothing logged.
func cut() { panic(http.ErrAbortHandler) }

// message is a stream chunk's delta.
type message struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

// chatMessage is a whole answer's message. Content is null when the answer
// is a tool call, as OpenAI sends it.
type chatMessage struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type toolCall struct {
	// Index is set in stream deltas only.
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type choice struct {
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Delta        *message     `json:"delta,omitempty"`
	Logprobs     any          `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type completionObject struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []choice `json:"choices"`
	Usage   *usage   `json:"usage,omitempty"`
}

// answer is a chat completion ready to send, whole or as chunks.
type answer struct {
	obj  completionObject // without Object and Choices
	toks []string
	// tool, when set, is the answer instead of toks: a call to that tool
	// with the arguments {}.
	tool   *toolCall
	finish string
	usage  usage
}

// toolArguments is what every simulated tool call passes.
const toolArguments = "{}"

// toolTokens is what a call to the tool name costs.
func toolTokens(name string) int { return countTokens(name) + countTokens(toolArguments) }

func (s *Server) chat(w http.ResponseWriter, r *http.Request, body []byte, pl plan) {
	req := gjson.ParseBytes(body)
	model := req.Get("model")
	if model.Type != gjson.String || model.Str == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "You must provide a model parameter.")
		return
	}
	msgs := req.Get("messages")
	if !msgs.IsArray() || !msgs.Get("0").Exists() {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'messages' must be a non-empty array.")
		return
	}
	prompt := promptText(msgs)
	a := answer{
		obj: completionObject{
			ID:      "chatcmpl-sim-" + strconv.FormatUint(s.ids.Add(1), 10),
			Created: s.clk.Now().Unix(),
			Model:   model.Str,
		},
		finish: "stop",
	}
	a.usage = usage{PromptTokens: countTokens(prompt)}
	switch name, forced := forcedOpenAITool(req); {
	case pl.mode == Empty:
	case forced:
		a.tool = &toolCall{ID: "call_sim_" + strconv.FormatUint(s.ids.Add(1), 10), Type: "function",
			Function: toolFunction{Name: name, Arguments: toolArguments}}
		a.finish = "tool_calls"
		a.usage.CompletionTokens = toolTokens(name)
	default:
		a.toks = completion(s.spec.Seed, prompt)
		limit := req.Get("max_completion_tokens").Int()
		if limit == 0 {
			limit = req.Get("max_tokens").Int()
		}
		if limit > 0 && int64(len(a.toks)) > limit {
			a.toks, a.finish = a.toks[:limit], "length"
		}
		a.usage.CompletionTokens = len(a.toks)
	}
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens

	if req.Get("stream").Bool() {
		stream(r.Context(), w, pl, a, req.Get("stream_options.include_usage").Bool())
		return
	}
	// The whole answer is due when its stream would have ended.
	if !pl.wait(r.Context(), pl.token(max(len(a.toks)-1, 0))) {
		return
	}
	if pl.mode == CutStream {
		cut()
	}
	msg := &chatMessage{Role: "assistant"}
	if a.tool != nil {
		msg.ToolCalls = []toolCall{*a.tool}
	} else {
		text := joinTokens(a.toks)
		msg.Content = &text
	}
	obj := a.obj
	obj.Object = "chat.completion"
	obj.Choices = []choice{{Message: msg, FinishReason: &a.finish}}
	obj.Usage = &a.usage
	writeJSON(w, http.StatusOK, obj)
}

// inbandError is the event an OpenAI-compatible server sends when it fails
// after the 200 of a stream.
const inbandError = `{"error":{"message":"The simulated provider is overloaded.","type":"server_error","param":null,"code":"overloaded"}}`

// stream sends the answer as chat.completion.chunk events, each flushed: the
// role, the tokens at their pace (or a tool call and its arguments), the
// finish reason, the usage if asked, and [DONE].
func stream(ctx context.Context, w http.ResponseWriter, pl plan, a answer, withUsage bool) {
	if !pl.wait(ctx, pl.headers) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	write := func(data []byte) bool {
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if pl.mode == InbandError {
		write([]byte(inbandError))
		return
	}
	send := func(c completionObject) bool {
		c.Object = "chat.completion.chunk"
		b, err := json.Marshal(c)
		return err == nil && write(b)
	}
	chunk := func(d message, finish *string) completionObject {
		c := a.obj
		c.Choices = []choice{{Delta: &d, FinishReason: finish}}
		return c
	}
	if a.tool != nil {
		// As OpenAI does: the role with the call's id and name, then its
		// arguments as they come.
		zero := 0
		head := *a.tool
		head.Index, head.Function.Arguments = &zero, ""
		args := toolCall{Index: &zero, Function: toolFunction{Arguments: a.tool.Function.Arguments}}
		if !send(chunk(message{Role: "assistant", ToolCalls: []toolCall{head}}, nil)) ||
			!pl.wait(ctx, pl.token(0)) || !send(chunk(message{ToolCalls: []toolCall{args}}, nil)) {
			return
		}
		if pl.mode == CutStream {
			cut()
		}
	} else {
		empty := ""
		if !send(chunk(message{Role: "assistant", Content: &empty}, nil)) {
			return
		}
	}
	for i, tok := range a.toks {
		if !pl.wait(ctx, pl.token(i)) || !send(chunk(message{Content: &tok}, nil)) {
			return
		}
		if pl.mode == CutStream {
			cut()
		}
	}
	if !send(chunk(message{}, &a.finish)) {
		return
	}
	if withUsage {
		c := a.obj
		c.Choices = []choice{}
		c.Usage = &a.usage
		if !send(c) {
			return
		}
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err == nil {
		_ = rc.Flush() // the client may be gone; there is nothing left to tell it
	}
}

// promptText is the text of every message, which the answer derives from.
// Content may be a string or an array of parts; only text parts count.
func promptText(msgs gjson.Result) string {
	var b strings.Builder
	msgs.ForEach(func(_, m gjson.Result) bool {
		writeText(&b, m.Get("content"))
		b.WriteByte('\n')
		return true
	})
	return b.String()
}

// writeText writes the text of content: a string, or the text parts of an
// array.
func writeText(b *strings.Builder, c gjson.Result) {
	if !c.IsArray() {
		b.WriteString(c.Str)
		return
	}
	c.ForEach(func(_, part gjson.Result) bool {
		b.WriteString(part.Get("text").Str)
		return true
	})
}

// forcedOpenAITool returns the tool an OpenAI request makes the answer call:
// tool_choice "required" forces the first tool, {"type":"function",…} the
// one it names. Without tools, nothing is forced.
func forcedOpenAITool(req gjson.Result) (string, bool) {
	tools := req.Get("tools")
	if !tools.IsArray() || !tools.Get("0").Exists() {
		return "", false
	}
	var name string
	switch tc := req.Get("tool_choice"); {
	case tc.Type == gjson.String && tc.Str == "required":
		name = tools.Get("0.function.name").Str
	case tc.IsObject() && tc.Get("type").Str == "function":
		name = tc.Get("function.name").Str
	}
	return name, name != ""
}

type embeddingObject struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float32, or a base64 string
}

type embeddingList struct {
	Object string            `json:"object"`
	Data   []embeddingObject `json:"data"`
	Model  string            `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, body []byte, pl plan) {
	req := gjson.ParseBytes(body)
	model := req.Get("model")
	if model.Type != gjson.String || model.Str == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "You must provide a model parameter.")
		return
	}
	var inputs []string
	switch in := req.Get("input"); {
	case in.Type == gjson.String:
		inputs = []string{in.Str}
	case in.IsArray():
		// Elements are strings or token arrays; a token array stands for
		// itself by its JSON text.
		for _, e := range in.Array() {
			if e.Type == gjson.String {
				inputs = append(inputs, e.Str)
			} else {
				inputs = append(inputs, e.Raw)
			}
		}
	}
	if len(inputs) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'input' must be a non-empty string or array.")
		return
	}
	dim := 8
	if d := req.Get("dimensions"); d.Exists() {
		dim = int(d.Int())
		if dim < 1 || dim > maxDimensions {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "",
				fmt.Sprintf("'dimensions' must be between 1 and %d.", maxDimensions))
			return
		}
	}
	format := req.Get("encoding_format").Str
	if format != "" && format != "float" && format != "base64" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'encoding_format' must be float or base64.")
		return
	}
	if !pl.wait(r.Context(), pl.headers) {
		return
	}
	if pl.mode == CutStream {
		cut()
	}
	out := embeddingList{Object: "list", Data: []embeddingObject{}, Model: model.Str}
	for i, in := range inputs {
		out.Usage.PromptTokens += countTokens(in)
		if pl.mode == Empty {
			continue
		}
		var e any = embedding(s.spec.Seed, in, dim)
		if format == "base64" {
			e = base64Vector(e.([]float32))
		}
		out.Data = append(out.Data, embeddingObject{Object: "embedding", Index: i, Embedding: e})
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	writeJSON(w, http.StatusOK, out)
}

type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func (s *Server) models(w http.ResponseWriter, r *http.Request, _ []byte, pl plan) {
	if !pl.wait(r.Context(), pl.headers) {
		return
	}
	if pl.mode == CutStream {
		cut()
	}
	list := struct {
		Object string        `json:"object"`
		Data   []modelObject `json:"data"`
	}{Object: "list", Data: []modelObject{}}
	if pl.mode != Empty {
		for _, m := range s.spec.Models {
			list.Data = append(list.Data, modelObject{ID: m, Object: "model", Created: s.start.Unix(), OwnedBy: "relais-sim"})
		}
	}
	writeJSON(w, http.StatusOK, list)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed types are marshaled; failing here is a bug, and a
		// real provider would answer 500 too.
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"sim: encoding the answer failed","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // a write error means the client is gone
}

// writeError answers in OpenAI's error shape. An empty code is null.
// Server.fail picks the shape of the server's dialect.
func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	e.Error.Message, e.Error.Type = msg, typ
	if code != "" {
		e.Error.Code = &code
	}
	writeJSON(w, status, e)
}

// errorType is the OpenAI error type for a status.
func errorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusTooManyRequests:
		return "requests"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

// writeRateLimit answers 429 as OpenAI does, with the headers clients and
// relais read to know when to come back.
func writeRateLimit(w http.ResponseWriter, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
	h.Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
	h.Set("X-Ratelimit-Remaining-Requests", "0")
	h.Set("X-Ratelimit-Reset-Requests", retryAfter.String())
	writeError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded",
		fmt.Sprintf("Rate limit reached for requests. Please try again in %s.", retryAfter))
}
