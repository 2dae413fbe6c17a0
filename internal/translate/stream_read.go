package translate

import "github.com/tidwall/gjson"

const jsonString = gjson.String

// anthropicEvent is what the converters read of one Anthropic event. Its
// Results point into the event's data and die with it.
type anthropicEvent struct {
	root      gjson.Result
	typ       string
	index     int64
	blockType string       // content_block_start: content_block.type
	block     gjson.Result // content_block_start: content_block
	delta     gjson.Result // content_block_delta, message_delta: delta
	deltaType string       // content_block_delta: delta.type
	message   gjson.Result // message_start: message
	usage     gjson.Result // message_delta: usage
	err       gjson.Result // error: error
}

// readAnthropic reads an event by the type in its data (Anthropic repeats
// the event name there), so a stream whose names were lost still works. One
// pass over the top level finds every field, where a Get per field would
// scan the event again each time.
func readAnthropic(data string) anthropicEvent {
	a := anthropicEvent{root: gjson.Parse(data)}
	if !a.root.IsObject() {
		return a
	}
	a.root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "type":
			a.typ = v.String()
		case "index":
			a.index = v.Int()
		case "content_block":
			a.block = v
		case "delta":
			a.delta = v
		case "message":
			a.message = v
		case "usage":
			a.usage = v
		case "error":
			a.err = v
		}
		return true
	})
	if a.block.IsObject() {
		a.blockType = a.block.Get("type").String()
	}
	if a.delta.IsObject() {
		a.deltaType = a.delta.Get("type").String()
	}
	return a
}

// anthropicCounts tracks an Anthropic stream's usage: message_start gives
// the input side, message_delta the cumulative output (and, in newer API
// versions, the input side again).
type anthropicCounts struct {
	input, output, cacheRead, cacheCreate int
}

// start reads message_start's message.usage.
func (c *anthropicCounts) start(a *anthropicEvent) {
	c.read(a.message.Get("usage"))
}

// delta reads message_delta's usage.
func (c *anthropicCounts) delta(a *anthropicEvent) {
	c.read(a.usage)
}

func (c *anthropicCounts) read(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	for _, f := range [...]struct {
		key string
		n   *int
	}{
		{"input_tokens", &c.input},
		{"output_tokens", &c.output},
		{"cache_read_input_tokens", &c.cacheRead},
		{"cache_creation_input_tokens", &c.cacheCreate},
	} {
		if v := u.Get(f.key); v.Type == gjson.Number {
			*f.n = count(v)
		}
	}
}

func (c *anthropicCounts) usage() Usage {
	return Usage{Input: c.input + c.cacheRead + c.cacheCreate, Output: c.output, CachedInput: c.cacheRead}
}

// openAIChunk is what the converters read of one OpenAI chunk.
type openAIChunk struct {
	root  gjson.Result
	err   gjson.Result // the error object or text of an error chunk
	delta gjson.Result // choices[0].delta
	// choices[0].delta's fields
	content, refusal, toolCalls gjson.Result
	finish                      string // choices[0].finish_reason
	usage                       Usage
	hasUsage                    bool
}

// readChunk reads a chunk in one pass over its top level.
func readChunk(data string) openAIChunk {
	c := openAIChunk{root: gjson.Parse(data)}
	if !c.root.IsObject() {
		return c
	}
	var choices, usage gjson.Result
	c.root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "error":
			if v.Type != gjson.Null {
				c.err = v
			}
		case "choices":
			choices = v
		case "usage":
			usage = v
		}
		return true
	})
	if c.err.Exists() {
		return c
	}
	if choices.IsArray() {
		choices.ForEach(func(_, choice gjson.Result) bool {
			choice.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "delta":
					c.delta = v
				case "finish_reason":
					c.finish = v.String()
				}
				return true
			})
			return false // choices[0] only: a translated request never asks for n > 1
		})
		c.delta.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "content":
				c.content = v
			case "refusal":
				c.refusal = v
			case "tool_calls":
				c.toolCalls = v
			}
			return true
		})
	}
	if usage.IsObject() {
		c.usage, c.hasUsage = openAIUsage(usage), true
	}
	return c
}

func appendBlockStop(dst []byte, index int) []byte {
	dst = anthropicFrame(dst, "content_block_stop")
	dst = append(dst, `{"type":"content_block_stop","index":`...)
	dst = appendInt(dst, index)
	return append(dst, "}\n\n"...)
}

func appendMessageStop(dst []byte) []byte {
	dst = anthropicFrame(dst, "message_stop")
	return append(dst, `{"type":"message_stop"}`+"\n\n"...)
}

// appendRawString appends v's raw JSON text when it is a string from
// validated input, and "" otherwise.
func appendRawString(dst []byte, v gjson.Result) []byte {
	if v.Type != gjson.String {
		return append(dst, `""`...)
	}
	return append(dst, v.Raw...)
}
