package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
	"github.com/relais/relais/internal/translate"
)

// readerPool holds the stream readers. 1 KiB covers an ordinary event; longer
// lines are assembled by readLine. Thousands of streams can be open at once,
// so this size is memory per open stream.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1<<10) }}

// Stream phases, each with its own timeout and cause.
const (
	phaseHeader int32 = iota
	phaseFirstToken
	phaseIdle
	phaseDeadline
)

var phaseCause = [...]error{errTimeoutHeader, errTimeoutFirstToken, errTimeoutIdle, errDeadline}

// phaseTimer cancels a stream attempt when its current phase runs out of
// time, with that phase's cause, or with errDeadline when the request's
// deadline comes first.
type phaseTimer struct {
	t        *time.Timer
	cause    atomic.Int32
	deadline time.Time
}

func newPhaseTimer(cancel context.CancelCauseFunc, deadline time.Time) *phaseTimer {
	pt := &phaseTimer{deadline: deadline}
	pt.t = time.AfterFunc(time.Hour, func() { cancel(phaseCause[pt.cause.Load()]) })
	return pt
}

// arm gives the phase d, or what is left of the request's budget if less.
func (pt *phaseTimer) arm(phase int32, d time.Duration) {
	if left := time.Until(pt.deadline); left < d {
		d, phase = left, phaseDeadline
	}
	pt.cause.Store(phase)
	pt.t.Reset(d)
}

var (
	sseData   = []byte("data:")
	sseSpace  = []byte(" ")
	sseDone   = []byte("[DONE]")
	usageOpen = []byte(`"usage":{`)
	errorKey  = []byte(`"error"`)
)

// streamAttempt sends a streaming call and copies its events to the client.
// Until the first event with content, nothing is written, so the attempt can
// still fail over; after that, a failure ends the stream with an SSE error
// event.
//
// This frame and its callers' stay on the handler's stack for the stream's
// whole life, which is what an open stream costs in stack: keep them small
// (per-event work lives in sseCopy's methods, the setup in openStream), so
// the runtime can shrink the goroutine's stack once the stream settles.
func (g *Gateway) streamAttempt(ctx context.Context, w http.ResponseWriter, rt *Runtime, req *request, t *route.Target, call *provider.Call, res *result) {
	s := g.newSSECopy(ctx, w, req, t, res)
	defer s.close()
	if !s.open(rt, call) {
		return
	}
	idle := rt.Timeouts.Idle.D()
	if s.conv = s.converter(); s.conv != nil {
		s.relay(idle)
		return
	}
	for {
		data, err := readEvent(s.br, s.scratch)
		s.scratch = data
		if err != nil || !s.event(data, idle) {
			s.end(err)
			return
		}
	}
}

func (g *Gateway) newSSECopy(ctx context.Context, w http.ResponseWriter, req *request, t *route.Target, res *result) *sseCopy {
	actx, cancel := context.WithCancelCause(ctx)
	s := &sseCopy{g: g, w: w, req: req, t: t, ctx: ctx, actx: actx, cancel: cancel, sent: g.clk.Now(), res: res}
	s.timer = newPhaseTimer(cancel, req.deadline)
	return s
}

// close releases what the attempt holds.
func (s *sseCopy) close() {
	s.timer.t.Stop()
	s.cancel(nil)
	if s.body != nil {
		_ = s.body.Close()
	}
	if s.br != nil {
		s.br.Reset(nil)
		readerPool.Put(s.br)
	}
}

// open sends the call and reports whether the answer is a stream to read.
// Otherwise it settles s.res, answering the client itself when the upstream
// error goes back as it came.
func (s *sseCopy) open(rt *Runtime, call *provider.Call) bool {
	sentAt := time.Now() // the phase timers run in real time, whatever g.clk is
	s.timer.arm(phaseHeader, rt.Timeouts.Header.D())
	resp, err := s.t.Upstream.Do(s.actx, call)
	if err != nil {
		*s.res = transportResult(s.ctx, s.actx, err)
		return false
	}
	s.body = resp.Body
	*s.res = result{status: resp.StatusCode, retry: -1, rateLimit: readRateLimit(resp.Header, s.g.clk)}
	if resp.StatusCode == http.StatusOK {
		s.timer.arm(phaseFirstToken, time.Until(sentAt.Add(rt.Timeouts.FirstToken.D())))
		s.br = readerPool.Get().(*bufio.Reader)
		s.br.Reset(resp.Body)
		return true
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		*s.res = transportResult(s.ctx, s.actx, err)
		return false
	}
	classifyStatus(s.res, resp.Header, body, s.g.clk.Now())
	if decide(*s.res, rt.Retries.MaxRetryAfter.D()).done && (s.req.cont == nil || !s.req.cont.active) {
		// Returned to the client as it came (other 4xx); a continuation's
		// error never reaches the client, whose stream is under way.
		s.req.status = resp.StatusCode
		s.g.writeUpstream(s.w, s.req, s.t, &upstream{status: resp.StatusCode, header: resp.Header, body: body})
		s.res.committed = true
	}
	return false
}

// event handles one upstream event. It reports whether the stream goes on;
// when it does not, s.res says why, or the stream ended with [DONE].
func (s *sseCopy) event(data []byte, idle time.Duration) bool {
	if bytes.Equal(data, sseDone) {
		s.done = true
		return false
	}
	if !gjson.ValidBytes(data) {
		s.g.metrics.malformed(s.t)
		return true
	}
	if !s.committed {
		if isInbandError(data) {
			s.res.outcome = health.InbandError
			s.stop = true
			return false
		}
		s.hold(data)
		if !hasContent(data) {
			return true
		}
		s.req.ttft = s.g.clk.Now().Sub(s.sent)
		if !s.commit() {
			s.res.outcome, s.stop = health.ClientCanceled, true
			return false
		}
		s.res.committed = true
		s.timer.arm(phaseIdle, idle)
		return true
	}
	s.timer.arm(phaseIdle, idle)
	if bytes.Contains(data, errorKey) && isInbandError(data) {
		// The provider reported an error mid-answer: the client sees it as
		// sent, unless another target may continue the answer.
		if !s.deferFailure(health.InbandError) {
			s.write(data)
		}
		s.res.outcome, s.stop = health.InbandError, true
		return false
	}
	if !s.forward(data) {
		s.res.outcome, s.stop = health.ClientCanceled, true
		return false
	}
	return true
}

// readEvent reads the next SSE event that has data and returns its data
// (multi-line data joined with \n) in buf, which it reuses. Other fields
// (event:, id:, retry:) and comments carry nothing OpenAI streams need.
func readEvent(br *bufio.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	has := false
	for {
		line, err := readLine(br)
		if len(line) == 0 && err != nil {
			if has && err == io.EOF {
				return buf, nil
			}
			return buf, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if has {
				return buf, nil
			}
			continue
		}
		if v, ok := bytes.CutPrefix(line, sseData); ok {
			if has {
				buf = append(buf, '\n')
			}
			buf = append(buf, bytes.TrimPrefix(v, sseSpace)...)
			has = true
		}
		if err != nil { // the stream ended mid-line
			if has {
				return buf, nil
			}
			return buf, err
		}
	}
}

// readLine returns one line, assembling lines longer than the reader's buffer.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	full := append([]byte(nil), line...)
	for err == bufio.ErrBufferFull {
		line, err = br.ReadSlice('\n')
		full = append(full, line...)
	}
	return full, err
}

func isInbandError(data []byte) bool {
	if e := view(data, "error"); e.Exists() && e.Type != gjson.Null {
		return true
	}
	return view(data, "choices.0.finish_reason").Str == "error"
}

// hasContent reports whether an event carries something the client must see:
// text, a tool call, a refusal or the end of the answer.
func hasContent(data []byte) bool {
	c := view(data, "choices.0")
	if f := c.Get("finish_reason"); f.Exists() && f.Type != gjson.Null {
		return true
	}
	d := c.Get("delta")
	return d.Get("content").Str != "" || d.Get("tool_calls").Exists() || d.Get("refusal").Str != ""
}

// sseCopy is one stream attempt: it reads the upstream's events and writes
// them to the client.
type sseCopy struct {
	g   *Gateway
	w   http.ResponseWriter
	req *request
	t   *route.Target
	// ctx ends when the client goes away, actx when the attempt does.
	ctx, actx context.Context
	cancel    context.CancelCauseFunc
	timer     *phaseTimer
	body      io.ReadCloser // the upstream answer's
	br        *bufio.Reader // reads body
	// conv translates or classifies events off the OpenAI chat fast path;
	// name is the event name being read, pending the bytes held so far.
	conv          translate.Stream
	name, pending []byte
	textSynced    bool      // conv's text was added to the continuation's
	sent          time.Time // when the call went out, on g.clk
	res           *result   // the attempt's, in the attempt loop's frame
	stop          bool      // res is settled by an event: end has nothing to add
	held          [][]byte
	scratch       []byte // the event being read
	out           []byte // the event being written
	rc            *http.ResponseController
	committed     bool
	done          bool // [DONE] seen
	finished      bool // a finish_reason seen
}

func (s *sseCopy) hold(data []byte) {
	s.held = append(s.held, append([]byte(nil), data...))
}

// commit sends the headers and the held events: from here on, the client has
// bytes of this attempt and failover is over.
func (s *sseCopy) commit() bool {
	s.writeStreamHeader()
	for _, d := range s.held {
		if !s.forward(d) {
			return false
		}
	}
	s.held = nil
	return true
}

// writeStreamHeader sends a stream's headers, unless the stream continues
// one whose headers went out already.
func (s *sseCopy) writeStreamHeader() {
	s.committed = true
	if c := s.req.cont; c != nil && c.active {
		return
	}
	h := s.w.Header()
	s.req.setHeader(h, "Content-Type", "text/event-stream")
	s.req.setHeader(h, "Cache-Control", "no-cache")
	s.req.setHeader(h, "X-Accel-Buffering", "no")
	setServedBy(h, s.req, s.t)
	declareTrailers(h, s.req)
	s.req.status = http.StatusOK
	s.w.WriteHeader(http.StatusOK)
}

// forward writes one event, unless it is the usage chunk relais asked for on
// its own account, and keeps the accounting.
func (s *sseCopy) forward(data []byte) bool {
	delta := view(data, "choices.0")
	content := delta.Get("delta.content").Str
	s.req.usage.chars += len(content)
	if c := s.req.cont; c != nil {
		if !c.noteChunk(data, delta, content) {
			return true
		}
		if c.active {
			data = c.sameID(data)
			if f := c.leadFrame(provider.OpenAI, content); f != nil && !s.writeBytes(f) {
				return false
			}
		}
	}
	if f := delta.Get("finish_reason"); f.Exists() && f.Type != gjson.Null {
		s.finished = true
	}
	if bytes.Contains(data, usageOpen) {
		if u := view(data, "usage"); u.IsObject() {
			chars := s.req.usage.chars
			s.req.usage = usageOf(u)
			s.req.usage.chars = chars
			if !s.req.p.includeUsage && view(data, "choices.#").Int() == 0 {
				return true
			}
		}
	}
	return s.write(data)
}

func (s *sseCopy) write(data []byte) bool {
	s.out = append(append(append(s.out[:0], "data: "...), data...), "\n\n"...)
	if _, err := s.w.Write(s.out); err != nil {
		return false
	}
	return s.flush()
}

func (s *sseCopy) flush() bool {
	if s.rc == nil {
		s.rc = http.NewResponseController(s.w)
	}
	return s.rc.Flush() == nil
}

// end closes the attempt after the upstream stream stopped with err (io.EOF
// or nil for a clean end), or an event settled it.
func (s *sseCopy) end(err error) {
	res := s.res
	switch {
	case s.stop:
		return
	case err != nil && err != io.EOF:
		res.outcome, res.err = transportResult(s.ctx, s.actx, err).outcome, err
		if res.outcome == health.ConnError {
			res.outcome = health.Truncated
		}
	case !s.committed || !(s.done || s.finished):
		// Nothing with content arrived, or the answer never finished.
		res.outcome = health.Truncated
	default:
		res.outcome = health.OK
	}
	if !s.committed {
		return // nothing reached the client: the attempt loop may fail over
	}
	res.committed = true
	switch res.outcome {
	case health.OK:
		if c := s.req.cont; c != nil && c.active {
			s.writeBytes(s.continuationEvent())
		}
		_ = s.writeRaw("data: [DONE]\n\n")
	case health.ClientCanceled:
	default:
		if s.deferFailure(res.outcome) {
			return
		}
		// After the first byte the client must learn the stream failed: never a silent cut.
		s.writeBytes(streamError(provider.OpenAI, provider.ChatCompletions, "The upstream stream from "+s.t.Provider+" ended early ("+
			res.outcome.String()+"); the answer is incomplete."))
	}
}

func (s *sseCopy) writeRaw(v string) bool {
	if _, err := io.WriteString(s.w, v); err != nil {
		return false
	}
	return s.flush()
}
