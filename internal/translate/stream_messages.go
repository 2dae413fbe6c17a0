package translate

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// ChatToMessagesStream converts an OpenAI stream for an Anthropic client.
// Every frame carries its event name.
//
//   - the first chunk: message_start (id and model from the arguments, or
//     from the chunk when they are empty; usage zero, as OpenAI reports it
//     at the end);
//   - delta.content (and delta.refusal): a text block, opened lazily with
//     content_block_start, then content_block_delta text_delta;
//   - delta.tool_calls: for a new call, content_block_stop of the open block
//     and content_block_start of a tool_use block (id, name, input {}); its
//     argument fragments become input_json_delta. A fragment for a call
//     whose block was already stopped (OpenAI streams calls one after the
//     other, so only a non-conforming upstream interleaves them) is sent at
//     that block's index anyway, which Anthropic's SDKs accumulate;
//   - finish_reason: remembered (mapped as in ChatResponseToMessages); "error"
//     is an in-band error;
//   - usage (the last chunk with stream_options.include_usage): remembered;
//   - [DONE], or Finish: content_block_stop, message_delta with stop_reason,
//     stop_sequence null and usage (input_tokens and cache_read_input_tokens
//     when the upstream reported them, output_tokens), message_stop;
//   - an {"error":…} chunk: an Anthropic error event, which ends the stream
//     (later events and Finish add nothing).
func ChatToMessagesStream(id, model string, keepText bool) Stream {
	return &messagesStream{id: id, model: model, text: textBuf{keep: keepText}, open: -1}
}

var _ Stream = (*messagesStream)(nil)

type messagesStream struct {
	id, model string
	text      textBuf
	usage     Usage
	hasUsage  bool
	stop      string // the stop_reason to send
	refused   bool
	tools     []toolBlock
	open      int  // the block started and not stopped, or -1
	openText  bool // the open block is a text block
	next      int  // the index of the next block
	started   bool // message_start was sent
	done      bool // message_stop was sent
}

// toolBlock ties an OpenAI tool call (its index, and id when given) to the
// Anthropic block that carries it.
type toolBlock struct {
	index int64
	id    string
	block int
}

func (s *messagesStream) Convert(dst []byte, ev Event) ([]byte, Info) {
	if s.done {
		return dst, Info{}
	}
	if isDone(ev.Data) {
		return s.end(dst), Info{Done: true}
	}
	if !validJSON(ev.Data) {
		return dst, Info{}
	}
	c := readChunk(view(ev.Data))
	if c.err.Exists() {
		msg := c.err.Str
		k := errorKinds[kindAPIError]
		if c.err.IsObject() {
			msg = c.err.Get("message").String()
			k = kindByOpenAI(c.err.Get("type").String(), c.err.Get("code").String())
		}
		if msg == "" {
			msg = "the upstream stream failed"
		}
		return s.appendError(dst, k.anthropic, msg), Info{Err: true}
	}
	if !c.root.IsObject() {
		return dst, Info{}
	}
	dst = s.start(dst, c.root)
	var info Info
	if c.hasUsage {
		s.usage, s.hasUsage = c.usage, true
	}
	if t := c.content; t.Type == jsonString && t.Str != "" {
		dst = s.textDelta(dst, t.Raw)
		info.Content = true
	}
	if t := c.refusal; t.Type == jsonString && t.Str != "" {
		s.refused = true
		dst = s.textDelta(dst, t.Raw)
		info.Content = true
	}
	if calls := c.toolCalls; calls.IsArray() {
		pos := int64(0)
		calls.ForEach(func(_, tc gjson.Result) bool {
			var ok bool
			dst, ok = s.toolDelta(dst, tc, pos)
			info.Content = info.Content || ok
			pos++
			return true
		})
	}
	switch c.finish {
	case "":
	case "error":
		dst = s.appendError(dst, "api_error", "the upstream stream ended with an error")
		info.Err = true
	default:
		s.stop = stopReason(c.finish)
		info.Content = true
	}
	return dst, info
}

// start sends message_start once.
func (s *messagesStream) start(dst []byte, chunk gjson.Result) []byte {
	if s.started {
		return dst
	}
	s.started = true
	dst = anthropicFrame(dst, "message_start")
	dst = append(dst, `{"type":"message_start","message":{"id":`...)
	if s.id != "" {
		dst = appendString(dst, s.id)
	} else {
		dst = appendRawString(dst, chunk.Get("id"))
	}
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	if s.model != "" {
		dst = appendString(dst, s.model)
	} else {
		dst = appendRawString(dst, chunk.Get("model"))
	}
	return append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"output_tokens":0}}}`+"\n\n"...)
}

func (s *messagesStream) textDelta(dst []byte, raw string) []byte {
	s.text.add(raw)
	if s.open < 0 || !s.openText {
		dst = s.stopBlock(dst)
		s.open, s.openText = s.next, true
		s.next++
		dst = anthropicFrame(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = appendInt(dst, s.open)
		dst = append(dst, `,"content_block":{"type":"text","text":""}}`+"\n\n"...)
	}
	dst = anthropicFrame(dst, "content_block_delta")
	dst = append(dst, `{"type":"content_block_delta","index":`...)
	dst = appendInt(dst, s.open)
	dst = append(dst, `,"delta":{"type":"text_delta","text":`...)
	dst = append(dst, raw...)
	return append(dst, "}}\n\n"...)
}

// toolDelta converts one element of delta.tool_calls; pos is its place in
// the array, the index when the upstream omits one. It reports whether the
// element carried anything.
func (s *messagesStream) toolDelta(dst []byte, tc gjson.Result, pos int64) ([]byte, bool) {
	if !tc.IsObject() {
		return dst, false
	}
	index := pos
	if i := tc.Get("index"); i.Type == gjson.Number {
		index = i.Int()
	}
	id := tc.Get("id")
	fn := tc.Get("function")
	t := s.tool(index)
	// A new id at a known index is a new call from an upstream that does
	// not number its calls.
	if t == nil || (id.Type == jsonString && id.Str != "" && id.Str != t.id) {
		dst = s.stopBlock(dst)
		s.tools = append(s.tools, toolBlock{index: index, id: id.String(), block: s.next})
		t = &s.tools[len(s.tools)-1]
		s.open, s.openText = s.next, false
		s.next++
		dst = anthropicFrame(dst, "content_block_start")
		dst = append(dst, `{"type":"content_block_start","index":`...)
		dst = appendInt(dst, t.block)
		dst = append(dst, `,"content_block":{"type":"tool_use","id":`...)
		toolID := t.id
		if toolID == "" {
			toolID = "toolu_" + strconv.Itoa(t.block)
		}
		dst = appendString(dst, sanitizeID(toolID))
		dst = append(dst, `,"name":`...)
		dst = appendRawString(dst, fn.Get("name"))
		dst = append(dst, `,"input":{}}}`+"\n\n"...)
	}
	if args := fn.Get("arguments"); args.Type == jsonString && args.Str != "" {
		dst = anthropicFrame(dst, "content_block_delta")
		dst = append(dst, `{"type":"content_block_delta","index":`...)
		dst = appendInt(dst, t.block)
		dst = append(dst, `,"delta":{"type":"input_json_delta","partial_json":`...)
		dst = append(dst, args.Raw...)
		dst = append(dst, "}}\n\n"...)
	}
	return dst, true
}

// tool returns the latest call with the OpenAI index, or nil.
func (s *messagesStream) tool(index int64) *toolBlock {
	for i := len(s.tools) - 1; i >= 0; i-- {
		if s.tools[i].index == index {
			return &s.tools[i]
		}
	}
	return nil
}

func (s *messagesStream) stopBlock(dst []byte) []byte {
	if s.open < 0 {
		return dst
	}
	dst = appendBlockStop(dst, s.open)
	s.open = -1
	return dst
}

// appendError sends an error event, which ends an Anthropic stream: later
// events and Finish add nothing.
func (s *messagesStream) appendError(dst []byte, typ, msg string) []byte {
	s.done = true
	dst = anthropicFrame(dst, "error")
	dst = appendAnthropicError(dst, typ, msg)
	return append(dst, "\n\n"...)
}

// Finish ends a stream whose upstream stopped without [DONE], as [DONE]
// would.
func (s *messagesStream) Finish(dst []byte) []byte {
	if s.done {
		return dst
	}
	return s.end(dst)
}

func (s *messagesStream) end(dst []byte) []byte {
	s.done = true
	dst = s.start(dst, gjson.Result{})
	dst = s.stopBlock(dst)
	stop := s.stop
	switch {
	case stop == "" && len(s.tools) > 0:
		stop = "tool_use"
	case stop == "":
		stop = "end_turn"
	case stop == "end_turn" && s.refused:
		stop = "refusal"
	case stop == "end_turn" && len(s.tools) > 0:
		// Some OpenAI-compatible servers finish tool calls with "stop";
		// an Anthropic client only runs tools on tool_use.
		stop = "tool_use"
	}
	dst = anthropicFrame(dst, "message_delta")
	dst = append(dst, `{"type":"message_delta","delta":{"stop_reason":"`...)
	dst = append(dst, stop...) // one of stopReason's constants
	dst = append(dst, `","stop_sequence":null},"usage":{`...)
	if s.hasUsage {
		dst = append(dst, `"input_tokens":`...)
		dst = appendInt(dst, s.usage.Input-s.usage.CachedInput)
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = appendInt(dst, s.usage.CachedInput)
		dst = append(dst, ',')
	}
	dst = append(dst, `"output_tokens":`...)
	dst = appendInt(dst, s.usage.Output)
	dst = append(dst, "}}\n\n"...)
	return appendMessageStop(dst)
}

func (s *messagesStream) Usage() Usage    { return s.usage }
func (s *messagesStream) Text() string    { return s.text.String() }
func (s *messagesStream) ToolCalls() bool { return len(s.tools) > 0 }
