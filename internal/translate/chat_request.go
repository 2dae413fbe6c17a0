package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// fallbackMaxTokens is the max_tokens sent to Anthropic when neither the
// request nor the caller says one.
const fallbackMaxTokens = 4096

// ChatToMessages converts an OpenAI chat.completions request body into an
// Anthropic Messages request for model. Every error it returns is an *Error:
// the client's request is the problem.
//
// Mapping:
//   - system and developer messages, wherever they are, become `system`,
//     joined by blank lines (Anthropic has no system turn mid-conversation);
//   - user and assistant messages keep their role; text, image_url (a data:
//     URL becomes a base64 source, an http(s) URL a url source) and file parts
//     with file_data (a base64 document) become content blocks; an input_audio
//     part, a file_id, or a part of another type is an *Error, since dropping
//     what the user sent would change the question; empty text parts, which
//     Anthropic rejects, are dropped;
//   - assistant tool_calls become tool_use blocks after the text; arguments
//     must be a JSON object (or empty, read as {}), else *Error; tool call
//     ids keep only the characters Anthropic allows ([A-Za-z0-9_-], others
//     become _), in tool_use and tool_result alike;
//   - tool messages become tool_result blocks (text parts joined by
//     newlines) in a user message; consecutive ones share one message, and a
//     user message right after them joins it, as Anthropic wants results
//     first in the next user turn;
//   - text parts of system, developer and tool messages are joined by
//     newlines; a file part's filename becomes the document's title;
//   - tools (function only) become name/description/input_schema, tool_choice
//     auto/none/required/{function} becomes auto/none/any/tool, and
//     parallel_tool_calls:false becomes disable_parallel_tool_use (tool_choice
//     is dropped when there are no tools, as Anthropic rejects it alone);
//   - max_completion_tokens, else max_tokens, else defaultMaxTokens (else
//     4096) becomes max_tokens, which Anthropic requires;
//   - stop becomes stop_sequences, temperature is clamped to Anthropic's 0..1,
//     top_p and stream are kept, user (or safety_identifier) becomes
//     metadata.user_id;
//   - response_format json_object and json_schema have no Messages
//     equivalent: an instruction to answer with JSON only (quoting the schema
//     for json_schema) is added to the end of the system prompt. The answer is
//     then JSON by instruction, not by constraint;
//   - n > 1 is an *Error; other fields with no Anthropic meaning (seed,
//     penalties, logprobs, logit_bias, store, metadata, reasoning_effort,
//     service_tier, stream_options…) are dropped.
func ChatToMessages(body []byte, model string, defaultMaxTokens int) ([]byte, error) {
	req, e := parseObject(body)
	if e != nil {
		return nil, e
	}
	if n := req.Get("n"); n.Type == gjson.Number && n.Int() > 1 {
		return nil, badRequest("n > 1 is not supported by Anthropic targets")
	}
	out := aRequest{Model: model}
	var system []string
	msgs := req.Get("messages")
	if !msgs.IsArray() {
		return nil, badRequest("messages must be an array")
	}
	for i, m := range msgs.Array() {
		path := fmt.Sprintf("messages[%d]", i)
		if !m.IsObject() {
			return nil, badRequest("%s must be an object", path)
		}
		role := m.Get("role").String()
		switch role {
		case "system", "developer":
			text, e := textOnly(m.Get("content"), path+".content")
			if e != nil {
				return nil, e
			}
			system = append(system, text)
		case "user":
			c, e := userContent(m.Get("content"), path+".content")
			if e != nil {
				return nil, e
			}
			out.Messages = addUser(out.Messages, c, false)
		case "assistant":
			c, e := assistantContent(m, path)
			if e != nil {
				return nil, e
			}
			out.Messages = append(out.Messages, aMessage{Role: "assistant", Content: c})
		case "tool":
			c, e := userContent(m.Get("content"), path+".content")
			if e != nil {
				return nil, e
			}
			tr := aToolResult{Type: "tool_result", ToolUseID: sanitizeID(m.Get("tool_call_id").String()), Content: joinTexts(c)}
			if s, ok := tr.Content.(string); ok && s == "" {
				tr.Content = nil
			}
			out.Messages = addUser(out.Messages, []any{tr}, true)
		default:
			return nil, badRequest("%s.role %q is not supported by Anthropic targets", path, role)
		}
	}
	if len(out.Messages) == 0 {
		return nil, badRequest("messages must hold at least one user or assistant message")
	}

	if instr, e := jsonInstruction(req.Get("response_format")); e != nil {
		return nil, e
	} else if instr != "" {
		system = append(system, instr)
	}
	out.System = strings.Join(system, "\n\n")

	out.MaxTokens = int64(defaultMaxTokens)
	if out.MaxTokens <= 0 {
		out.MaxTokens = fallbackMaxTokens
	}
	for _, k := range [...]string{"max_completion_tokens", "max_tokens"} {
		v := req.Get(k)
		if v.Type == gjson.Number {
			out.MaxTokens = v.Int()
			break
		}
		if v.Exists() && v.Type != gjson.Null {
			return nil, badRequest("%s must be a number", k)
		}
	}
	if v, e := number(req, "temperature"); e != nil {
		return nil, e
	} else if v != nil {
		t := min(max(*v, 0), 1)
		out.Temperature = &t
	}
	var e2 *Error
	if out.TopP, e2 = number(req, "top_p"); e2 != nil {
		return nil, e2
	}
	out.Stream = req.Get("stream").Type == gjson.True
	if out.StopSequences, e2 = stops(req.Get("stop")); e2 != nil {
		return nil, e2
	}
	for _, k := range [...]string{"user", "safety_identifier"} {
		if u := req.Get(k).String(); u != "" {
			out.Metadata = &aMetadata{UserID: u}
			break
		}
	}
	if out.Tools, e2 = chatTools(req.Get("tools")); e2 != nil {
		return nil, e2
	}
	if out.ToolChoice, e2 = chatToolChoice(req.Get("tool_choice")); e2 != nil {
		return nil, e2
	}
	if len(out.Tools) == 0 {
		out.ToolChoice = nil
	} else if req.Get("parallel_tool_calls").Type == gjson.False {
		if out.ToolChoice == nil {
			out.ToolChoice = &aToolChoice{Type: "auto"}
		}
		if out.ToolChoice.Type != "none" {
			out.ToolChoice.DisableParallelToolUse = true
		}
	}
	return marshalRequest(&out)
}

// marshalRequest encodes a request built from validated input; a failure
// here is a bug, reported as a 500 rather than blamed on the client.
func marshalRequest(v any) ([]byte, error) {
	b, err := marshal(v)
	if err != nil {
		return nil, &Error{Status: 500, Message: "translating the request failed: " + err.Error()}
	}
	return b, nil
}

// parseObject checks that body is one JSON object.
func parseObject(body []byte) (gjson.Result, *Error) {
	if !validJSON(body) {
		return gjson.Result{}, badRequest("the request body is not valid JSON")
	}
	r := gjson.ParseBytes(body)
	if !r.IsObject() {
		return gjson.Result{}, badRequest("the request body must be a JSON object")
	}
	return r, nil
}

// number reads an optional numeric field.
func number(req gjson.Result, key string) (*float64, *Error) {
	v := req.Get(key)
	switch v.Type {
	case gjson.Number:
		f := v.Float()
		return &f, nil
	case gjson.Null:
		return nil, nil
	}
	if v.Exists() {
		return nil, badRequest("%s must be a number", key)
	}
	return nil, nil
}

// stops reads OpenAI's stop: a string or an array of strings. Empty strings
// stop nothing and Anthropic rejects them, so they go.
func stops(v gjson.Result) ([]string, *Error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return nil, nil
	case v.Type == gjson.String:
		if v.Str == "" {
			return nil, nil
		}
		return []string{v.Str}, nil
	case v.IsArray():
		var out []string
		for _, s := range v.Array() {
			if s.Type != gjson.String {
				return nil, badRequest("stop must be a string or an array of strings")
			}
			if s.Str != "" {
				out = append(out, s.Str)
			}
		}
		return out, nil
	}
	return nil, badRequest("stop must be a string or an array of strings")
}

// textOnly reads content that may only hold text (system and developer
// messages): a string or text parts, joined.
func textOnly(c gjson.Result, path string) (string, *Error) {
	switch {
	case c.Type == gjson.String:
		return c.Str, nil
	case !c.Exists() || c.Type == gjson.Null:
		return "", nil
	case c.IsArray():
		var texts []string
		for j, p := range c.Array() {
			if t := p.Get("type").String(); t != "text" {
				return "", badRequest("%s[%d]: a part of type %q is not supported here", path, j, t)
			}
			texts = append(texts, p.Get("text").String())
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", badRequest("%s must be a string or an array of content parts", path)
}

// userContent converts user or tool message content: a string stays a
// string, parts become blocks.
func userContent(c gjson.Result, path string) (any, *Error) {
	switch {
	case c.Type == gjson.String:
		return c.Str, nil
	case !c.Exists() || c.Type == gjson.Null:
		return "", nil
	case !c.IsArray():
		return nil, badRequest("%s must be a string or an array of content parts", path)
	}
	parts := c.Array()
	blocks := make([]any, 0, len(parts))
	for j, p := range parts {
		at := fmt.Sprintf("%s[%d]", path, j)
		switch t := p.Get("type").String(); t {
		case "text":
			// Anthropic rejects empty text blocks; they say nothing.
			if text := p.Get("text").String(); text != "" {
				blocks = append(blocks, aText{Type: "text", Text: text})
			}
		case "image_url":
			u := p.Get("image_url")
			if u.IsObject() {
				u = u.Get("url")
			}
			src, e := urlSource(u.String(), at+".image_url.url")
			if e != nil {
				return nil, e
			}
			blocks = append(blocks, aImage{Type: "image", Source: src})
		case "file":
			data := p.Get("file.file_data").String()
			if data == "" {
				return nil, badRequest("%s: files are supported as file_data only (a file_id cannot be sent to Anthropic targets)", at)
			}
			src, e := urlSource(data, at+".file.file_data")
			if e != nil {
				return nil, e
			}
			if src.Type != "base64" {
				return nil, badRequest("%s.file.file_data must be a data: URL", at)
			}
			blocks = append(blocks, aImage{Type: "document", Source: src, Title: p.Get("file.filename").String()})
		case "input_audio":
			return nil, badRequest("%s: audio input is not supported by Anthropic targets", at)
		default:
			return nil, badRequest("%s: a content part of type %q is not supported by Anthropic targets", at, t)
		}
	}
	return blocks, nil
}

// joinTexts turns blocks that are all text into one string, joined by
// newlines as text parts are, so a tool result reads the same whichever way
// it was sent; other content is returned as it is.
func joinTexts(content any) any {
	blocks, ok := content.([]any)
	if !ok {
		return content
	}
	texts := make([]string, 0, len(blocks))
	for _, b := range blocks {
		t, ok := b.(aText)
		if !ok {
			return content
		}
		texts = append(texts, t.Text)
	}
	return strings.Join(texts, "\n")
}

// urlSource turns an image or file URL into an Anthropic source: a base64
// data: URL keeps its bytes and media type, an http(s) URL is fetched by
// Anthropic.
func urlSource(u, path string) (aSource, *Error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		params := strings.Split(meta, ";")
		if !ok || params[len(params)-1] != "base64" {
			return aSource{}, badRequest("%s: a data: URL must be base64 encoded", path)
		}
		return aSource{Type: "base64", MediaType: params[0], Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return aSource{Type: "url", URL: u}, nil
	}
	return aSource{}, badRequest("%s must be an http(s) or data: URL", path)
}

// assistantContent converts an assistant message: its text, then its tool
// calls as tool_use blocks. Text alone stays a string.
func assistantContent(m gjson.Result, path string) (any, *Error) {
	c := m.Get("content")
	calls := m.Get("tool_calls")
	if !calls.IsArray() || len(calls.Array()) == 0 {
		if c.IsArray() {
			blocks, e := assistantParts(c, path+".content")
			if len(blocks) == 0 && e == nil {
				return "", nil
			}
			return blocks, e
		}
		if c.Exists() && c.Type != gjson.String && c.Type != gjson.Null {
			return nil, badRequest("%s.content must be a string or an array of content parts", path)
		}
		return c.Str, nil
	}
	var blocks []any
	switch {
	case c.IsArray():
		parts, e := assistantParts(c, path+".content")
		if e != nil {
			return nil, e
		}
		blocks = parts
	case c.Type == gjson.String && c.Str != "":
		blocks = append(blocks, aText{Type: "text", Text: c.Str})
	}
	for j, tc := range calls.Array() {
		at := fmt.Sprintf("%s.tool_calls[%d]", path, j)
		if t := tc.Get("type").String(); t != "" && t != "function" {
			return nil, badRequest("%s: a tool call of type %q is not supported by Anthropic targets", at, t)
		}
		args := strings.TrimSpace(tc.Get("function.arguments").String())
		input := json.RawMessage("{}")
		if args != "" {
			if !gjson.Valid(args) || !gjson.Parse(args).IsObject() || tooDeep([]byte(args)) {
				return nil, badRequest("%s.function.arguments must be a JSON object", at)
			}
			input = json.RawMessage(args)
		}
		blocks = append(blocks, aToolUse{
			Type:  "tool_use",
			ID:    sanitizeID(tc.Get("id").String()),
			Name:  tc.Get("function.name").String(),
			Input: input,
		})
	}
	return blocks, nil
}

// assistantParts converts assistant content parts (text and refusal).
func assistantParts(c gjson.Result, path string) ([]any, *Error) {
	var blocks []any
	for j, p := range c.Array() {
		var text string
		switch t := p.Get("type").String(); t {
		case "text":
			text = p.Get("text").String()
		case "refusal":
			text = p.Get("refusal").String()
		default:
			return nil, badRequest("%s[%d]: a part of type %q is not supported here", path, j, t)
		}
		if text != "" {
			blocks = append(blocks, aText{Type: "text", Text: text})
		}
	}
	return blocks, nil
}

// addUser appends a user turn, merging it into the previous user turn when
// tool results are involved: Anthropic wants every result of one assistant
// turn, and what the user says next, in the one user message that follows.
func addUser(msgs []aMessage, content any, toolResult bool) []aMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == "user" && (toolResult || hasToolResult(msgs[n-1].Content)) {
		msgs[n-1].Content = append(asBlocks(msgs[n-1].Content), asBlocks(content)...)
		return msgs
	}
	return append(msgs, aMessage{Role: "user", Content: content})
}

func hasToolResult(content any) bool {
	blocks, _ := content.([]any)
	for _, b := range blocks {
		if _, ok := b.(aToolResult); ok {
			return true
		}
	}
	return false
}

// asBlocks returns content as blocks; an empty string is no block, since
// Anthropic rejects empty text blocks.
func asBlocks(content any) []any {
	switch c := content.(type) {
	case string:
		if c == "" {
			return nil
		}
		return []any{aText{Type: "text", Text: c}}
	case []any:
		return c
	}
	return nil
}

// chatTools converts OpenAI function tools.
func chatTools(v gjson.Result) ([]aTool, *Error) {
	if !v.Exists() || v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, badRequest("tools must be an array")
	}
	var tools []aTool
	for i, t := range v.Array() {
		if typ := t.Get("type").String(); typ != "" && typ != "function" {
			return nil, badRequest("tools[%d]: a tool of type %q is not supported by Anthropic targets", i, typ)
		}
		fn := t.Get("function")
		name := fn.Get("name").String()
		if name == "" {
			return nil, badRequest("tools[%d].function.name is required", i)
		}
		schema := json.RawMessage(`{"type":"object","properties":{}}`)
		if p := fn.Get("parameters"); p.IsObject() {
			schema = json.RawMessage(p.Raw)
		} else if p.Exists() && p.Type != gjson.Null {
			return nil, badRequest("tools[%d].function.parameters must be a JSON schema object", i)
		}
		tools = append(tools, aTool{Name: name, Description: fn.Get("description").String(), InputSchema: schema})
	}
	return tools, nil
}

// chatToolChoice converts tool_choice.
func chatToolChoice(v gjson.Result) (*aToolChoice, *Error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return nil, nil
	case v.Type == gjson.String:
		switch v.Str {
		case "auto":
			return &aToolChoice{Type: "auto"}, nil
		case "none":
			return &aToolChoice{Type: "none"}, nil
		case "required":
			return &aToolChoice{Type: "any"}, nil
		}
	case v.IsObject():
		if v.Get("type").String() == "function" {
			if name := v.Get("function.name").String(); name != "" {
				return &aToolChoice{Type: "tool", Name: name}, nil
			}
		}
	}
	return nil, badRequest("tool_choice %s is not supported by Anthropic targets (use \"auto\", \"none\", \"required\" or a function)", clip(v.Raw))
}

// jsonInstruction returns the system prompt addition standing in for
// response_format, or "" when there is none.
func jsonInstruction(rf gjson.Result) (string, *Error) {
	if !rf.Exists() || rf.Type == gjson.Null {
		return "", nil
	}
	const tail = " Answer with the JSON only: no code fences, no text before or after it."
	switch t := rf.Get("type").String(); t {
	case "text":
		return "", nil
	case "json_object":
		return "Respond with a single valid JSON object." + tail, nil
	case "json_schema":
		schema := rf.Get("json_schema.schema")
		if !schema.IsObject() {
			return "", badRequest("response_format.json_schema.schema must be a JSON schema object")
		}
		var b strings.Builder
		b.WriteString("Respond with a single valid JSON value that conforms to this JSON schema")
		if name := rf.Get("json_schema.name").String(); name != "" {
			fmt.Fprintf(&b, " (%q)", name)
		}
		b.WriteString(": ")
		compact, err := marshal(json.RawMessage(schema.Raw))
		if err != nil {
			return "", badRequest("response_format.json_schema.schema is not valid JSON")
		}
		b.Write(compact)
		b.WriteString("." + tail)
		return b.String(), nil
	default:
		return "", badRequest("response_format of type %q is not supported by Anthropic targets", t)
	}
}

// clip shortens raw input quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
