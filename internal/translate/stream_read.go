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
}

// readAnthropic reads an event by the type in its data (Anthropic repeats
// the event name there), so a stream whose names were lost still works.
func readAnthropic(data string) anthropicEvent {
	a := anthropicEvent{root: gjson.Parse(data)}
	a.typ = a.root.Get("type").String()
	switch a.typ {
	case "content_block_start":
		a.index = a.root.Get("index").Int()
		a.block = a.root.Get("content_block")
		a.blockType = a.block.Get("type").String()
	case "content_block_delta":
		a.index = a.root.Get("index").Int()
		a.delta = a.root.Get("delta")
		a.deltaType = a.delta.Get("type").String()
	case "content_block_stop":
		a.index = a.root.Get("index").Int()
	case "message_delta":
		a.delta = a.root.Get("delta")
	}
	return a
}

// anthropicCounts tracks an Anthropic stream's usage: message_start gives
// the input side, message_delta the cumulative output (and, in newer API
// versions, the input side again).
type anthropicCounts struct {
	input, output, cacheRead, cacheCreate int
}

func (c *anthropicCounts) start(root gjson.Result) {
	c.read(root.Get("message.usage"))
}

func (c *anthropicCounts) delta(root gjson.Result) {
	c.read(root.Get("usage"))
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
	root     gjson.Result
	err      gjson.Result // the error object or text of an error chunk
	delta    gjson.Result // choices[0].delta
	finish   string       // choices[0].finish_reason
	usage    Usage
	hasUsage bool
}

func readChunk(data string) openAIChunk {
	c := openAIChunk{root: gjson.Parse(data)}
	if e := c.root.Get("error"); e.Exists() && e.Type != gjson.Null {
		c.err = e
		return c
	}
	choice := c.root.Get("choices.0")
	c.delta = choice.Get("delta")
	c.finish = choice.Get("finish_reason").String()
	if u := c.root.Get("usage"); u.IsObject() {
		c.usage, c.hasUsage = openAIUsage(u), true
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
