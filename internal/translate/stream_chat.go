package translate

import "strconv"

// MessagesToChatStream converts an Anthropic stream for an OpenAI client.
// Every chunk has id, object "chat.completion.chunk", created and model from
// the arguments.
//
//   - message_start: a first chunk with delta.role "assistant" (not
//     content);
//   - text_delta: delta.content;
//   - content_block_start of a tool_use: tool_calls[i] with id, type, name
//     and "arguments":"", i counting the tool calls; input_json_delta:
//     tool_calls[i].function.arguments fragments;
//   - message_delta with a stop_reason: a chunk with finish_reason (mapped as
//     in MessagesResponseToChat);
//   - message_stop: when includeUsage, a usage chunk (choices: []), then
//     "data: [DONE]";
//   - error: an OpenAI error chunk, data: {"error":{…}}; the stream is over,
//     later events are ignored;
//   - ping, thinking and signature deltas, content_block_stop and unknown
//     events: nothing.
func MessagesToChatStream(id, model string, created int64, includeUsage, keepText bool) Stream {
	s := &chatStream{includeUsage: includeUsage, text: textBuf{keep: keepText}}
	p := append([]byte(nil), `data: {"id":`...)
	p = appendString(p, id)
	p = append(p, `,"object":"chat.completion.chunk","created":`...)
	p = strconv.AppendInt(p, created, 10)
	p = append(p, `,"model":`...)
	p = appendString(p, model)
	s.prefix = append(p, `,"choices":`...)
	return s
}

var _ Stream = (*chatStream)(nil)

type chatStream struct {
	prefix       []byte // the chunk's fields before its choices
	includeUsage bool
	text         textBuf
	usage        anthropicCounts
	tools        []blockTool // tool_use blocks seen, in order
	started      bool        // the role chunk was sent
	finished     bool        // the finish_reason chunk was sent
	failed       bool        // an error chunk was sent: the stream is over
	done         bool        // [DONE] was sent
}

// blockTool ties an Anthropic content block to its OpenAI tool call index
// (its position in chatStream.tools).
type blockTool struct {
	block int64
}

func (s *chatStream) Convert(dst []byte, ev Event) ([]byte, Info) {
	if s.done || s.failed || !validJSON(ev.Data) {
		return dst, Info{}
	}
	a := readAnthropic(view(ev.Data))
	var info Info
	switch a.typ {
	case "message_start":
		s.usage.start(&a)
		dst = s.start(dst)
	case "content_block_start":
		switch a.blockType {
		case "text":
			if t := a.block.Get("text"); t.Type == jsonString && t.Str != "" {
				dst = s.content(dst, t.Raw)
				info.Content = true
			}
		case "tool_use":
			dst = s.start(dst)
			i := len(s.tools)
			s.tools = append(s.tools, blockTool{block: a.index})
			dst = s.open(dst)
			dst = append(dst, `"tool_calls":[{"index":`...)
			dst = appendInt(dst, i)
			dst = append(dst, `,"id":`...)
			dst = appendRawString(dst, a.block.Get("id"))
			dst = append(dst, `,"type":"function","function":{"name":`...)
			dst = appendRawString(dst, a.block.Get("name"))
			dst = append(dst, `,"arguments":""}}]`...)
			dst = s.close(dst, "")
			info.Content = true
		}
	case "content_block_delta":
		switch a.deltaType {
		case "text_delta":
			if t := a.delta.Get("text"); t.Type == jsonString && t.Str != "" {
				dst = s.content(dst, t.Raw)
				info.Content = true
			}
		case "input_json_delta":
			i := s.toolIndex(a.index)
			if t := a.delta.Get("partial_json"); i >= 0 && t.Type == jsonString && t.Str != "" {
				dst = s.start(dst)
				dst = s.open(dst)
				dst = append(dst, `"tool_calls":[{"index":`...)
				dst = appendInt(dst, i)
				dst = append(dst, `,"function":{"arguments":`...)
				dst = append(dst, t.Raw...)
				dst = append(dst, "}}]"...)
				dst = s.close(dst, "")
				info.Content = true
			}
		}
	case "message_delta":
		s.usage.delta(&a)
		if r := a.delta.Get("stop_reason"); r.Type == jsonString && !s.finished {
			dst = s.finish(dst, finishReason(r.Str))
			info.Content = true
		}
	case "message_stop":
		dst = s.end(dst)
		info.Done = true
	case "error":
		e := a.err
		k := kindByAnthropicType(e.Get("type").String(), 500)
		msg := e.Get("message").String()
		if msg == "" {
			msg = "the upstream stream failed"
		}
		dst = append(dst, "data: "...)
		dst = appendOpenAIError(dst, k.openAIType, k.code, msg)
		dst = append(dst, "\n\n"...)
		s.failed = true
		info.Err = true
	}
	return dst, info
}

// Finish ends a stream whose upstream stopped without message_stop: the
// finish chunk ("stop") if none was sent, usage if asked, [DONE]. After an
// error chunk only [DONE] follows.
func (s *chatStream) Finish(dst []byte) []byte {
	switch {
	case s.done:
		return dst
	case s.failed:
		s.done = true
		return append(dst, "data: [DONE]\n\n"...)
	}
	return s.end(dst)
}

func (s *chatStream) end(dst []byte) []byte {
	if !s.finished {
		dst = s.finish(dst, "stop")
	}
	if s.includeUsage {
		u := s.usage.usage()
		dst = append(dst, s.prefix...)
		dst = append(dst, `[],"usage":{"prompt_tokens":`...)
		dst = appendInt(dst, u.Input)
		dst = append(dst, `,"completion_tokens":`...)
		dst = appendInt(dst, u.Output)
		dst = append(dst, `,"total_tokens":`...)
		dst = appendInt(dst, u.Input+u.Output)
		dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
		dst = appendInt(dst, u.CachedInput)
		dst = append(dst, "}}}\n\n"...)
	}
	s.done = true
	return append(dst, "data: [DONE]\n\n"...)
}

// start sends the role chunk once, before anything else.
func (s *chatStream) start(dst []byte) []byte {
	if s.started {
		return dst
	}
	s.started = true
	dst = s.open(dst)
	dst = append(dst, `"role":"assistant","content":""`...)
	return s.close(dst, "")
}

func (s *chatStream) content(dst []byte, raw string) []byte {
	s.text.add(raw)
	dst = s.start(dst)
	dst = s.open(dst)
	dst = append(dst, `"content":`...)
	dst = append(dst, raw...)
	return s.close(dst, "")
}

func (s *chatStream) finish(dst []byte, reason string) []byte {
	dst = s.start(dst)
	s.finished = true
	dst = s.open(dst)
	return s.close(dst, reason)
}

// open starts a chunk up to the inside of its delta object.
func (s *chatStream) open(dst []byte) []byte {
	dst = append(dst, s.prefix...)
	return append(dst, `[{"index":0,"delta":{`...)
}

// close ends a chunk begun by open, with finish_reason null when reason is
// empty.
func (s *chatStream) close(dst []byte, reason string) []byte {
	dst = append(dst, `},"logprobs":null,"finish_reason":`...)
	if reason == "" {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = append(dst, reason...) // one of finishReason's constants
		dst = append(dst, '"')
	}
	return append(dst, "}]}\n\n"...)
}

// toolIndex returns the tool call index of an Anthropic block, or -1.
func (s *chatStream) toolIndex(block int64) int {
	for i := len(s.tools) - 1; i >= 0; i-- {
		if s.tools[i].block == block {
			return i
		}
	}
	return -1
}

func (s *chatStream) Usage() Usage    { return s.usage.usage() }
func (s *chatStream) Text() string    { return s.text.String() }
func (s *chatStream) ToolCalls() bool { return len(s.tools) > 0 }
