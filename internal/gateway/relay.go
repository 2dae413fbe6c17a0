package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/translate"
)

// converter returns how this attempt's events reach the client, or nil for
// the OpenAI chat fast path, which forwards events as they are.
func (s *sseCopy) converter() translate.Stream {
	req := s.req
	keep := req.cont != nil // only routes that continue streams keep their text
	switch {
	case req.endpoint == provider.Responses:
		return &responsesStream{}
	case req.dialect == provider.OpenAI && req.upDialect == provider.OpenAI:
		return nil
	case req.dialect == req.upDialect:
		return translate.Passthrough(true, keep)
	case req.dialect == provider.OpenAI:
		id := "chatcmpl-" + req.id
		if keep && req.cont.chunkID != "" {
			id = req.cont.chunkID // a continuation keeps the chunks' id
		}
		return translate.MessagesToChatStream(id, s.t.Model, s.g.clk.Now().Unix(), req.p.includeUsage, keep)
	default:
		return translate.ChatToMessagesStream("msg_"+req.id, s.t.Model, keep)
	}
}

// relay copies a stream event by event through s.conv: held until the first
// event with content, so a failure before it can still fail over, like the
// fast path.
func (s *sseCopy) relay(idle time.Duration) {
	c := s.req.cont
	for {
		data, name, err := readNamedEvent(s.br, s.scratch, s.name)
		s.scratch, s.name = data, name
		if err != nil {
			s.endRelay(err)
			return
		}
		// The name aliases s.name: converters compare it, never keep it.
		ev := translate.Event{Name: unsafe.String(unsafe.SliceData(name), len(name)), Data: data}
		var info translate.Info
		s.out, info = s.conv.Convert(s.out[:0], ev)
		if c != nil {
			s.out = s.noteFrames(s.out, info)
		}
		if info.Err && s.committed {
			// The provider reported an error mid-answer: the client sees it
			// as sent, unless another target may continue the answer.
			s.res.outcome, s.stop = health.InbandError, true
			if !s.deferFailure(health.InbandError) {
				s.writeBytes(s.out)
			}
			s.endRelay(nil)
			return
		}
		if !s.committed {
			if info.Err {
				s.res.outcome, s.stop = health.InbandError, true
				s.endRelay(nil)
				return
			}
			s.pending = append(s.pending, s.out...)
			if !info.Content {
				if info.Done {
					s.endRelay(io.EOF)
					return
				}
				continue
			}
			s.req.ttft = s.g.clk.Now().Sub(s.sent)
			if !s.commitPending() {
				s.res.outcome, s.stop = health.ClientCanceled, true
				return
			}
			s.res.committed = true
			s.timer.arm(phaseIdle, idle)
		} else {
			s.timer.arm(phaseIdle, idle)
			if !s.writeBytes(s.out) {
				s.res.outcome, s.stop = health.ClientCanceled, true
				return
			}
		}
		if info.Done {
			s.done = true
			s.endRelay(io.EOF)
			return
		}
	}
}

// noteFrames keeps a continued route's accounting of what the client has,
// and shapes a continuation's frames: its preamble dropped, the whitespace
// a prefill lost given back, and the continuation event before the end.
func (s *sseCopy) noteFrames(out []byte, info translate.Info) []byte {
	c := s.req.cont
	if s.conv.ToolCalls() {
		c.tools = true
	}
	if !c.active {
		return out
	}
	out = contFrames(s.req.dialect, out)
	if info.Content && !c.led {
		if f := c.leadFrame(s.req.dialect, s.conv.Text()); f != nil {
			out = append(f, out...)
		}
	}
	if info.Done {
		u := s.conv.Usage()
		s.req.usage = usage{input: u.Input, output: u.Output, cached: u.CachedInput}
		out = append(s.continuationEvent(), out...)
	}
	return out
}

// syncText adds the text this relayed attempt streamed to the
// continuation's, once.
func (s *sseCopy) syncText() {
	if c := s.req.cont; c != nil && s.conv != nil && !s.textSynced {
		s.textSynced = true
		c.text = append(c.text, s.conv.Text()...)
	}
}

// commitPending sends the headers and the events held so far.
func (s *sseCopy) commitPending() bool {
	s.writeStreamHeader()
	ok := s.writeBytes(s.pending)
	s.pending = nil
	return ok
}

func (s *sseCopy) writeBytes(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.flush()
}

// endRelay closes a relayed attempt, as end does for the fast path.
func (s *sseCopy) endRelay(err error) {
	res := s.res
	u := s.conv.Usage()
	s.req.usage = usage{input: u.Input, output: u.Output, cached: u.CachedInput}
	s.syncText()
	switch {
	case s.stop:
	case err != nil && err != io.EOF:
		res.outcome, res.err = transportResult(s.ctx, s.actx, err).outcome, err
		if res.outcome == health.ConnError {
			res.outcome = health.Truncated
		}
	case !s.committed || !s.done:
		res.outcome = health.Truncated
	default:
		res.outcome = health.OK
	}
	if !s.committed {
		return
	}
	res.committed = true
	switch res.outcome {
	case health.OK:
		s.writeBytes(s.conv.Finish(s.out[:0]))
	case health.ClientCanceled, health.InbandError:
	default:
		if s.deferFailure(res.outcome) {
			return
		}
		msg := "The upstream stream from " + s.t.Provider + " ended early (" + res.outcome.String() + "); the answer is incomplete."
		s.writeBytes(streamError(s.req.dialect, s.req.endpoint, msg))
	}
}

// streamError is the event that tells a client its stream failed after it
// began, in the client's dialect.
func streamError(d provider.Dialect, ep provider.Endpoint, msg string) []byte {
	switch {
	case d == provider.Anthropic:
		return append(append([]byte("event: error\ndata: "), translate.AnthropicError(http.StatusBadGateway, msg)...), "\n\n"...)
	case ep == provider.Responses:
		return append(append([]byte("event: error\ndata: "), translate.OpenAIError("server_error", "stream_interrupted", msg)...), "\n\n"...)
	}
	return append(append([]byte("data: "), translate.OpenAIError("server_error", "stream_interrupted", msg)...), "\n\n"...)
}

// readNamedEvent reads the next SSE event that has data, as readEvent does,
// and its event name (empty when the event has none) into name.
func readNamedEvent(br *bufio.Reader, buf, name []byte) (data, ename []byte, err error) {
	buf, name = buf[:0], name[:0]
	has := false
	for {
		line, err := readLine(br)
		if len(line) == 0 && err != nil {
			if has && err == io.EOF {
				return buf, name, nil
			}
			return buf, name, err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if has {
				return buf, name, nil
			}
			name = name[:0] // an event without data is dropped, name and all
		case bytes.HasPrefix(line, sseData):
			if has {
				buf = append(buf, '\n')
			}
			buf = append(buf, bytes.TrimPrefix(line[len(sseData):], sseSpace)...)
			has = true
		case bytes.HasPrefix(line, sseEvent):
			v := bytes.TrimPrefix(line[len(sseEvent):], sseSpace)
			if i := bytes.IndexByte(v, '\r'); i >= 0 {
				v = v[:i] // a lone CR ends a line in SSE: the name stops there
			}
			name = append(name[:0], v...)
		}
		if err != nil { // the stream ended mid-line
			if has {
				return buf, name, nil
			}
			return buf, name, err
		}
	}
}

var sseEvent = []byte("event:")

// responsesStream forwards a Responses API stream as it is and classifies
// its events: relais does not translate the Responses API.
type responsesStream struct {
	u usage
}

func (r *responsesStream) Convert(dst []byte, ev translate.Event) ([]byte, translate.Info) {
	var info translate.Info
	switch {
	case ev.Name == "error" || ev.Name == "response.failed":
		info.Err = true
	case ev.Name == "response.completed" || ev.Name == "response.incomplete":
		info.Done, info.Content = true, true
		r.u = responsesUsage(view(ev.Data, "response.usage"))
	case strings.HasSuffix(ev.Name, ".delta") || ev.Name == "response.output_item.added":
		info.Content = true
	case ev.Name == "" && gjson.ValidBytes(ev.Data) && view(ev.Data, "error").Exists():
		info.Err = true
	}
	if ev.Name != "" {
		dst = append(append(append(dst, "event: "...), ev.Name...), '\n')
	}
	dst = append(append(append(dst, "data: "...), ev.Data...), "\n\n"...)
	return dst, info
}

func (r *responsesStream) Finish(dst []byte) []byte { return dst }
func (r *responsesStream) Usage() translate.Usage {
	return translate.Usage{Input: r.u.input, Output: r.u.output, CachedInput: r.u.cached}
}
func (r *responsesStream) Text() string    { return "" }
func (r *responsesStream) ToolCalls() bool { return false }
