package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/relais/relais/internal/health"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/route"
)

// continueInstruction asks a target that takes no prefill to go on with the
// assistant message before it.
const continueInstruction = "Your previous answer was cut off. Continue it exactly where it stops: " +
	"no preamble, no repetition of what is already written, same language and style."

// continuation is a stream's state on a route with continue_streams: the
// text the client has, so that when the stream dies after content, the next
// target can be asked to go on from there, into the same client stream.
type continuation struct {
	text    []byte // the assistant text the client has received
	tools   bool   // a tool call was streamed: such streams are never continued
	chunkID string // the id of the OpenAI chunks the client has, kept by the continuation
	// pending: a stream that had reached the client died; its error event is
	// held back while another target may continue it.
	pending bool
	failure health.Outcome // why the first stream died
	// active: the attempt running continues the stream; its preamble (role
	// chunk, message_start, the text block's start) is not sent again.
	active bool
	tried  uint32 // bit i: req.targets[i] tried for a continuation
	from   *route.Target
	first  usage  // what the streams before the running one used
	lead   string // whitespace cut off an Anthropic prefill, to give back
	led    bool   // the continuation's first text has been seen
}

// noteChunk records an OpenAI chunk the client gets; it reports whether the
// chunk goes to the client (a continuation's role chunk does not).
func (c *continuation) noteChunk(data []byte, choice gjson.Result, content string) bool {
	if c.chunkID == "" {
		c.chunkID = view(data, "id").String()
	}
	if choice.Get("delta.tool_calls").Exists() {
		c.tools = true
	}
	c.text = append(c.text, content...)
	if !c.active {
		return true
	}
	f := choice.Get("finish_reason")
	return content != "" || choice.Get("delta.tool_calls").Exists() || choice.Get("delta.refusal").Str != "" ||
		(f.Exists() && f.Type != gjson.Null) || view(data, "usage").IsObject()
}

// sameID gives a continuation's chunk the id of the chunks the client has:
// SDK accumulators drop chunks of another id.
func (c *continuation) sameID(data []byte) []byte {
	id := view(data, "id")
	if !id.Exists() || id.Str == c.chunkID || c.chunkID == "" {
		return data
	}
	q, _ := json.Marshal(c.chunkID)
	out := make([]byte, 0, len(data)+len(q))
	out = append(out, data[:id.Index]...)
	out = append(out, q...)
	return append(out, data[id.Index+len(id.Raw):]...)
}

// leadFrame is the whitespace an Anthropic prefill lost, as a text delta in
// the client's dialect, when the continuation's first text does not start
// with whitespace of its own; nil otherwise.
func (c *continuation) leadFrame(d provider.Dialect, first string) []byte {
	if c.led || first == "" {
		return nil
	}
	c.led = true
	if c.lead == "" {
		return nil
	}
	if r, _ := utf8.DecodeRuneInString(first); unicode.IsSpace(r) {
		return nil
	}
	c.text = append(c.text, c.lead...)
	q, _ := json.Marshal(c.lead)
	if d == provider.Anthropic {
		return append(append([]byte(`event: content_block_delta`+"\n"+`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`), q...), "}}\n\n"...)
	}
	id, _ := json.Marshal(c.chunkID)
	return append(append(append(append([]byte(`data: {"id":`), id...), `,"object":"chat.completion.chunk","created":0,"model":"","choices":[{"index":0,"delta":{"content":`...), q...), `},"finish_reason":null}]}`+"\n\n"...)
}

// deferFailure holds back the error event of a stream that died after
// content, when it may be continued. It reports whether it did.
func (s *sseCopy) deferFailure(o health.Outcome) bool {
	c := s.req.cont
	if c == nil || !s.committed {
		return false
	}
	s.syncText()
	if c.tools || len(c.text) == 0 {
		return false
	}
	if !c.active {
		c.failure = o
	}
	c.pending = true
	return true
}

// continueStream continues a stream that died after content on the route's
// other targets, in order, into the same client stream. A target that fails
// before sending text (a refused prefill, an outage) costs the client
// nothing: the next one is tried. When none continues it, the client's
// stream ends with the first failure, as it would have without continuation.
func (g *Gateway) continueStream(ctx context.Context, w http.ResponseWriter, rt *Runtime, req *request, failed *route.Target) {
	c := req.cont
	c.from = failed
	for i, t := range req.targets {
		if t == failed {
			c.tried |= 1 << i
		}
	}
	c.first = req.usage
	if c.first.output == 0 {
		c.first.output = (len(c.text) + 3) / 4 // a cut stream reports no usage: about 4 bytes a token
	}
	for c.pending && ctx.Err() == nil {
		t, permit := nextContinuation(req)
		if t == nil {
			break
		}
		call, skip, err := buildCall(req, t)
		if err != nil || skip != nil {
			continue
		}
		prefill := req.upDialect == provider.Anthropic || t.Prefill
		if call.Body, c.lead, err = appendContinuation(call.Body, req.upDialect, prefill, c.text); err != nil {
			continue
		}
		c.pending, c.active, c.led = false, true, false
		req.attempts++
		started := g.clk.Now()
		res := &req.res
		*res = result{}
		g.streamAttempt(ctx, w, rt, req, t, call, res)
		latency := g.clk.Now().Sub(started)
		ok := res.outcome == health.OK
		if ok {
			second := req.usage
			req.usage = usage{input: c.first.input + second.input, output: c.first.output + second.output,
				cached: c.first.cached + second.cached, chars: len(c.text)}
		}
		t.Breaker.Record(permit, ok || res.outcome == health.ClientCanceled)
		g.observe(req, t, *res, started, latency, ok || c.pending)
		if ok {
			req.served, req.outcome = t, health.OK
			g.metrics.continued.WithLabelValues(req.route.Name, "ok").Inc()
			return
		}
		if res.outcome == health.ClientCanceled {
			return
		}
		if !res.committed {
			c.pending = true // it sent nothing: try the next one
		}
	}
	g.metrics.continued.WithLabelValues(req.route.Name, "failed").Inc()
	req.outcome = c.failure
	_, _ = w.Write(streamError(req.dialect, req.endpoint, "The upstream stream from "+c.from.Provider+" ended early ("+
		c.failure.String()+") and no other target could continue it; the answer is incomplete."))
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// nextContinuation is the first target not yet tried for a continuation
// whose breaker lets a call through.
func nextContinuation(req *request) (*route.Target, route.Permit) {
	c := req.cont
	for i, t := range req.targets {
		if c.tried&(1<<i) != 0 {
			continue
		}
		c.tried |= 1 << i
		if p := t.Breaker.Allow(); p != route.Denied {
			return t, p
		}
	}
	return nil, route.Denied
}

// appendContinuation adds the text so far to a request body in the target's
// dialect: as the assistant's message to continue (a prefill) or, for
// targets that take none, followed by an instruction to continue it. It
// returns the trailing whitespace an Anthropic prefill may not end with.
func appendContinuation(body []byte, d provider.Dialect, prefill bool, text []byte) ([]byte, string, error) {
	prefix, lead := string(text), ""
	if d == provider.Anthropic {
		prefix = strings.TrimRightFunc(prefix, unicode.IsSpace)
		lead = string(text[len(prefix):])
	}
	msg, err := json.Marshal(map[string]string{"role": "assistant", "content": prefix})
	if err != nil {
		return nil, "", err
	}
	if body, err = sjson.SetRawBytes(body, "messages.-1", msg); err != nil {
		return nil, "", err
	}
	if !prefill {
		msg, _ = json.Marshal(map[string]string{"role": "user", "content": continueInstruction})
		body, err = sjson.SetRawBytes(body, "messages.-1", msg)
	}
	return body, lead, err
}

// contFrames drops, from a continuation's converted frames, the preamble
// the client already has: Anthropic's message_start, the text block's start
// and pings; OpenAI's role chunk.
func contFrames(d provider.Dialect, frames []byte) []byte {
	out := frames[:0:0]
	for len(frames) > 0 {
		f := frames
		if n := bytes.Index(frames, []byte("\n\n")); n >= 0 {
			f = frames[:n+2]
		}
		frames = frames[len(f):]
		if d == provider.Anthropic {
			if bytes.HasPrefix(f, []byte("event: message_start")) || bytes.HasPrefix(f, []byte("event: ping")) ||
				(bytes.HasPrefix(f, []byte("event: content_block_start")) && bytes.Contains(f, []byte(`"type":"text"`))) {
				continue
			}
		} else if data, ok := bytes.CutPrefix(f, []byte("data: ")); ok && gjson.ValidBytes(data) {
			ch := view(data, "choices.0")
			fr := ch.Get("finish_reason")
			if ch.Exists() && ch.Get("delta.content").Str == "" && !ch.Get("delta.tool_calls").Exists() && (!fr.Exists() || fr.Type == gjson.Null) {
				continue
			}
		}
		out = append(out, f...)
	}
	return out
}

// continuationEvent tells the client, just before its stream ends, that the
// answer was continued, by which targets, and what each segment used.
func (s *sseCopy) continuationEvent() []byte {
	c, req := s.req.cont, s.req
	type seg struct {
		Provider     string `json:"provider"`
		Model        string `json:"model"`
		InputTokens  int    `json:"input_tokens"`
		OutputTokens int    `json:"output_tokens"`
	}
	second := req.usage
	info := struct {
		Reason   string `json:"reason"`
		Segments []seg  `json:"segments"`
	}{c.failure.String(), []seg{
		{c.from.Provider, c.from.Model, c.first.input, c.first.output},
		{s.t.Provider, s.t.Model, second.input, second.output},
	}}
	h := s.w.Header()
	h.Set("X-Relais-Continued-From", c.from.Provider+"/"+c.from.Model)
	h.Set("X-Relais-Continued-By", s.t.Provider+"/"+s.t.Model)
	if req.dialect == provider.Anthropic {
		b, _ := json.Marshal(struct {
			Type         string `json:"type"`
			Continuation any    `json:"continuation"`
		}{"relais_continuation", info})
		return append(append([]byte("event: relais_continuation\ndata: "), b...), "\n\n"...)
	}
	b, _ := json.Marshal(struct {
		ID           string `json:"id"`
		Object       string `json:"object"`
		Created      int64  `json:"created"`
		Model        string `json:"model"`
		Choices      []int  `json:"choices"`
		Continuation any    `json:"relais_continuation"`
	}{c.chunkID, "chat.completion.chunk", s.g.clk.Now().Unix(), s.t.Model, []int{}, info})
	return append(append([]byte("data: "), b...), "\n\n"...)
}

// declareTrailers announces, with a stream's headers, the trailers that say
// whether it was continued.
func declareTrailers(h http.Header, req *request) {
	if req.cont != nil {
		h.Set("Trailer", "X-Relais-Continued-From, X-Relais-Continued-By")
	}
}
