package translate

import (
	"bytes"

	"github.com/tidwall/gjson"
)

// Event is one server-sent event: its `event:` name (may be empty) and its
// data, multi-line data joined by "\n". For OpenAI streams, data "[DONE]"
// ends the stream.
type Event struct {
	Name string
	Data []byte
}

// Info is what the gateway must know about one upstream event.
type Info struct {
	// Content: the event carries something the client must see (text, a
	// tool call, a refusal, a finish or stop reason). Before the first such
	// event nothing is lost by failing over to another target.
	Content bool
	// Err: an in-band error (an Anthropic `error` event, an OpenAI
	// {"error":…} chunk or finish_reason "error").
	Err bool
	// Done: the answer is complete (OpenAI [DONE], Anthropic message_stop).
	Done bool
}

// Stream converts one upstream stream, event by event, into the client's
// dialect. A Stream is used by one goroutine; it keeps no reference to the
// events it is given.
type Stream interface {
	// Convert appends the client's wire bytes for ev (whole SSE frames;
	// possibly none, possibly several) to dst and says what ev was. Data
	// that is not valid JSON, and events after the end, are ignored.
	Convert(dst []byte, ev Event) ([]byte, Info)
	// Finish appends what the client still needs for a well-formed end
	// after the upstream ended cleanly without saying so; nothing if the
	// end was already sent.
	Finish(dst []byte) []byte
	// Usage is what the upstream reported so far.
	Usage() Usage
	// Text is the assistant text streamed so far, kept only when the
	// constructor was given keepText.
	Text() string
	// ToolCalls reports whether the stream carried a tool call.
	ToolCalls() bool
}

var doneData = []byte("[DONE]")

// isDone reports whether data is OpenAI's end marker.
func isDone(data []byte) bool {
	return bytes.Equal(bytes.TrimSpace(data), doneData)
}

// appendFrame appends one SSE frame. name is written without CR or LF
// (which would end the field), data as one `data:` line per line (CR, LF and
// CRLF all end a line in SSE), so any input keeps the framing.
func appendFrame(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		for i := 0; i < len(name); i++ {
			if c := name[i]; c != '\n' && c != '\r' {
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// anthropicFrame starts an Anthropic frame: its event line and the start of
// its data line; the caller appends the JSON and "\n\n".
func anthropicFrame(dst []byte, name string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, name...)
	return append(dst, "\ndata: "...)
}

// textBuf keeps the streamed text when asked to.
type textBuf struct {
	keep bool
	buf  []byte
}

// add appends the text of raw, a JSON string literal.
func (t *textBuf) add(raw string) {
	if t.keep {
		t.buf = appendUnescaped(t.buf, raw)
	}
}

func (t *textBuf) String() string { return string(t.buf) }

// Passthrough returns a Stream that does not translate, for a client and an
// upstream of the same dialect (anthropic or OpenAI), but still classifies
// events and tracks usage and text. It re-emits each event as it came:
// "event: <name>\ndata: <data>\n\n" for Anthropic ("data: …" alone when the
// event has no name), "data: <data>\n\n" for OpenAI. Its Finish closes an
// Anthropic stream that had started (content_block_stop, message_delta,
// message_stop as needed; nothing after an error event) and ends an OpenAI
// one with [DONE].
func Passthrough(anthropic, keepText bool) Stream {
	if anthropic {
		return &anthropicPass{text: textBuf{keep: keepText}, open: -1}
	}
	return &openAIPass{text: textBuf{keep: keepText}}
}

var (
	_ Stream = (*anthropicPass)(nil)
	_ Stream = (*openAIPass)(nil)
)

type anthropicPass struct {
	text                          textBuf
	usage                         anthropicCounts
	started, stopped, done, tools bool
	open                          int64 // index of the block started and not yet stopped, or -1
}

func (p *anthropicPass) Convert(dst []byte, ev Event) ([]byte, Info) {
	if p.done {
		return dst, Info{}
	}
	dst = appendFrame(dst, ev.Name, ev.Data)
	if !validJSON(ev.Data) {
		return dst, Info{}
	}
	a := readAnthropic(view(ev.Data))
	var info Info
	switch a.typ {
	case "message_start":
		p.started = true
		p.usage.start(&a)
	case "content_block_start":
		p.open = a.index
		switch a.blockType {
		case "tool_use", "server_tool_use":
			p.tools = true
			info.Content = true
		case "text":
			if t := a.root.Get("content_block.text"); t.Type == jsonString && t.Str != "" {
				p.text.add(t.Raw)
				info.Content = true
			}
		}
	case "content_block_delta":
		switch a.deltaType {
		case "text_delta":
			if t := a.delta.Get("text"); t.Type == jsonString && t.Str != "" {
				p.text.add(t.Raw)
				info.Content = true
			}
		case "input_json_delta":
			if t := a.delta.Get("partial_json"); t.Type == jsonString && t.Str != "" {
				info.Content = true
			}
		}
	case "content_block_stop":
		p.open = -1
	case "message_delta":
		p.usage.delta(&a)
		if a.delta.Get("stop_reason").Type == jsonString {
			p.stopped = true
			info.Content = true
		}
	case "message_stop":
		p.done = true
		info.Done = true
	case "error":
		p.done = true // an error event ends an Anthropic stream
		info.Err = true
	}
	return dst, info
}

func (p *anthropicPass) Finish(dst []byte) []byte {
	if p.done || !p.started {
		return dst
	}
	p.done = true
	if p.open >= 0 {
		dst = appendBlockStop(dst, int(p.open))
	}
	if !p.stopped {
		dst = anthropicFrame(dst, "message_delta")
		dst = append(dst, `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":`...)
		dst = appendInt(dst, p.usage.output)
		dst = append(dst, "}}\n\n"...)
	}
	return appendMessageStop(dst)
}

func (p *anthropicPass) Usage() Usage    { return p.usage.usage() }
func (p *anthropicPass) Text() string    { return p.text.String() }
func (p *anthropicPass) ToolCalls() bool { return p.tools }

type openAIPass struct {
	text        textBuf
	usage       Usage
	done, tools bool
}

func (p *openAIPass) Convert(dst []byte, ev Event) ([]byte, Info) {
	if p.done {
		return dst, Info{}
	}
	dst = appendFrame(dst, "", ev.Data)
	if isDone(ev.Data) {
		p.done = true
		return dst, Info{Done: true}
	}
	if !validJSON(ev.Data) {
		return dst, Info{}
	}
	c := readChunk(view(ev.Data))
	var info Info
	if c.err.Exists() {
		return dst, Info{Err: true}
	}
	if c.hasUsage {
		p.usage = c.usage
	}
	if t := c.content; t.Type == jsonString && t.Str != "" {
		p.text.add(t.Raw)
		info.Content = true
	}
	if t := c.refusal; t.Type == jsonString && t.Str != "" {
		p.text.add(t.Raw)
		info.Content = true
	}
	c.toolCalls.ForEach(func(_, tc gjson.Result) bool {
		if tc.IsObject() {
			p.tools = true
			info.Content = true
		}
		return true
	})
	switch c.finish {
	case "":
	case "error":
		info.Err = true
	default:
		info.Content = true
	}
	return dst, info
}

func (p *openAIPass) Finish(dst []byte) []byte {
	if p.done {
		return dst
	}
	p.done = true
	return append(dst, "data: [DONE]\n\n"...)
}

func (p *openAIPass) Usage() Usage    { return p.usage }
func (p *openAIPass) Text() string    { return p.text.String() }
func (p *openAIPass) ToolCalls() bool { return p.tools }
