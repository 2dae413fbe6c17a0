package translate

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// MessagesToChat converts an Anthropic Messages request into an OpenAI chat
// request for model, the inverse of ChatToMessages. Every error it returns is
// an *Error.
//
// Mapping:
//   - system (a string or text blocks, joined by blank lines) becomes the
//     first message, role "system";
//   - in a user turn, tool_result blocks become role "tool" messages
//     (tool_call_id; text blocks joined by newlines into one string, which
//     every OpenAI-compatible server reads), placed first as OpenAI wants
//     them right after the assistant's tool calls; the rest becomes one user
//     message: text, image (base64 becomes a data: URL, url stays) and
//     document (base64 becomes a file part named by its title, text a text
//     part). Images inside a tool result, which an OpenAI tool message cannot
//     carry, follow in that user message. A result's is_error has no OpenAI
//     field and is dropped;
//   - in an assistant turn, text blocks become the content and tool_use
//     blocks tool_calls whose arguments are the input as a JSON string;
//     thinking and redacted_thinking blocks are dropped;
//   - tools with an input_schema become function tools; server tools (web
//     search, code execution…) cannot run on an OpenAI target and are an
//     *Error, as is any content block type not listed here;
//   - tool_choice auto/any/tool/none becomes "auto"/"required"/
//     {type:function}/"none", disable_parallel_tool_use becomes
//     parallel_tool_calls:false;
//   - max_tokens, temperature, top_p and stream are kept (stream also sets
//     stream_options.include_usage, so the answer can report usage),
//     stop_sequences becomes stop, metadata.user_id becomes user;
//   - thinking, top_k, cache_control, service_tier and other Anthropic-only
//     fields are dropped.
func MessagesToChat(body []byte, model string) ([]byte, error) {
	req, e := parseObject(body)
	if e != nil {
		return nil, e
	}
	out := oRequest{Model: model}
	sys, e := systemText(req.Get("system"))
	if e != nil {
		return nil, e
	}
	if sys != "" {
		out.Messages = append(out.Messages, oMessage{Role: "system", Content: sys})
	}
	msgs := req.Get("messages")
	if !msgs.IsArray() {
		return nil, badRequest("messages must be an array")
	}
	for i, m := range msgs.Array() {
		path := fmt.Sprintf("messages[%d]", i)
		if !m.IsObject() {
			return nil, badRequest("%s must be an object", path)
		}
		var e *Error
		switch role := m.Get("role").String(); role {
		case "user":
			out.Messages, e = userTurn(out.Messages, m.Get("content"), path+".content")
		case "assistant":
			out.Messages, e = assistantTurn(out.Messages, m.Get("content"), path+".content")
		default:
			e = badRequest("%s.role must be \"user\" or \"assistant\", not %q", path, role)
		}
		if e != nil {
			return nil, e
		}
	}

	if v := req.Get("max_tokens"); v.Type == gjson.Number {
		n := v.Int()
		out.MaxTokens = &n
	} else if v.Exists() && v.Type != gjson.Null {
		return nil, badRequest("max_tokens must be a number")
	}
	if out.Temperature, e = number(req, "temperature"); e != nil {
		return nil, e
	}
	if out.TopP, e = number(req, "top_p"); e != nil {
		return nil, e
	}
	if out.Stop, e = stops(req.Get("stop_sequences")); e != nil {
		return nil, e
	}
	if req.Get("stream").Type == gjson.True {
		out.Stream = true
		out.StreamOptions = &oStreamOptions{IncludeUsage: true}
	}
	out.User = req.Get("metadata.user_id").String()
	if out.Tools, e = messagesTools(req.Get("tools")); e != nil {
		return nil, e
	}
	if len(out.Tools) > 0 {
		tc := req.Get("tool_choice")
		switch t := tc.Get("type").String(); t {
		case "":
			if tc.Exists() && tc.Type != gjson.Null {
				return nil, badRequest("tool_choice must be an object with a type")
			}
		case "auto":
			out.ToolChoice = "auto"
		case "any":
			out.ToolChoice = "required"
		case "none":
			out.ToolChoice = "none"
		case "tool":
			var named oNamedToolChoice
			named.Type = "function"
			named.Function.Name = tc.Get("name").String()
			out.ToolChoice = named
		default:
			return nil, badRequest("tool_choice of type %q is not supported by OpenAI targets", t)
		}
		if tc.Get("disable_parallel_tool_use").Type == gjson.True {
			f := false
			out.ParallelToolCalls = &f
		}
	}
	return marshalRequest(&out)
}

// systemText reads Anthropic's system: a string or text blocks.
func systemText(v gjson.Result) (string, *Error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return "", nil
	case v.Type == gjson.String:
		return v.Str, nil
	case v.IsArray():
		var texts []string
		for i, b := range v.Array() {
			if t := b.Get("type").String(); t != "text" {
				return "", badRequest("system[%d]: a block of type %q is not supported here", i, t)
			}
			texts = append(texts, b.Get("text").String())
		}
		return strings.Join(texts, "\n\n"), nil
	}
	return "", badRequest("system must be a string or an array of text blocks")
}

// userTurn appends the OpenAI messages for one Anthropic user turn.
func userTurn(msgs []oMessage, c gjson.Result, path string) ([]oMessage, *Error) {
	if c.Type == gjson.String {
		return append(msgs, oMessage{Role: "user", Content: c.Str}), nil
	}
	if !c.IsArray() {
		return nil, badRequest("%s must be a string or an array of content blocks", path)
	}
	var parts, late []any // late: images from tool results
	for j, b := range c.Array() {
		at := fmt.Sprintf("%s[%d]", path, j)
		if b.Get("type").String() != "tool_result" {
			p, e := userPart(b, at)
			if e != nil {
				return nil, e
			}
			if p != nil {
				parts = append(parts, p)
			}
			continue
		}
		tm := oMessage{Role: "tool", ToolCallID: b.Get("tool_use_id").String()}
		rc := b.Get("content")
		switch {
		case rc.Type == gjson.String:
			tm.Content = rc.Str
		case !rc.Exists() || rc.Type == gjson.Null:
			tm.Content = ""
		case rc.IsArray():
			var texts []string
			for k, rb := range rc.Array() {
				p, e := userPart(rb, fmt.Sprintf("%s.content[%d]", at, k))
				if e != nil {
					return nil, e
				}
				switch p := p.(type) {
				case oText:
					texts = append(texts, p.Text)
				case nil:
				default:
					late = append(late, p)
				}
			}
			// Text parts in a tool message are not understood by every
			// OpenAI-compatible server; one string is.
			tm.Content = strings.Join(texts, "\n")
		default:
			return nil, badRequest("%s.content must be a string or an array of content blocks", at)
		}
		msgs = append(msgs, tm)
	}
	parts = append(late, parts...)
	if len(parts) > 0 {
		msgs = append(msgs, oMessage{Role: "user", Content: parts})
	}
	return msgs, nil
}

// userPart converts one non-tool-result block of a user turn; nil means the
// block carries nothing for OpenAI.
func userPart(b gjson.Result, path string) (any, *Error) {
	switch t := b.Get("type").String(); t {
	case "text":
		return oText{Type: "text", Text: b.Get("text").String()}, nil
	case "image":
		u, e := sourceURL(b.Get("source"), path+".source")
		if e != nil {
			return nil, e
		}
		return oImage{Type: "image_url", ImageURL: oImageURL{URL: u}}, nil
	case "document":
		src := b.Get("source")
		switch src.Get("type").String() {
		case "text":
			return oText{Type: "text", Text: src.Get("data").String()}, nil
		case "base64":
			u, e := sourceURL(src, path+".source")
			if e != nil {
				return nil, e
			}
			name := b.Get("title").String()
			if name == "" {
				name = "document"
			}
			return oFile{Type: "file", File: oFileData{FileData: u, Filename: name}}, nil
		}
		return nil, badRequest("%s: a document source of type %q is not supported by OpenAI targets", path, src.Get("type").String())
	case "thinking", "redacted_thinking":
		return nil, nil
	default:
		return nil, badRequest("%s: a content block of type %q is not supported by OpenAI targets", path, t)
	}
}

// sourceURL turns an Anthropic base64 or url source into a URL.
func sourceURL(src gjson.Result, path string) (string, *Error) {
	switch t := src.Get("type").String(); t {
	case "base64":
		return "data:" + src.Get("media_type").String() + ";base64," + src.Get("data").String(), nil
	case "url":
		return src.Get("url").String(), nil
	default:
		return "", badRequest("%s: a source of type %q is not supported by OpenAI targets", path, t)
	}
}

// assistantTurn appends the OpenAI message for one Anthropic assistant turn.
func assistantTurn(msgs []oMessage, c gjson.Result, path string) ([]oMessage, *Error) {
	if c.Type == gjson.String {
		return append(msgs, oMessage{Role: "assistant", Content: c.Str}), nil
	}
	if !c.IsArray() {
		return nil, badRequest("%s must be a string or an array of content blocks", path)
	}
	m := oMessage{Role: "assistant"}
	var texts []any
	for j, b := range c.Array() {
		switch t := b.Get("type").String(); t {
		case "text":
			texts = append(texts, oText{Type: "text", Text: b.Get("text").String()})
		case "tool_use":
			args := "{}"
			if in := b.Get("input"); in.Exists() {
				compact, err := marshal(json.RawMessage(in.Raw))
				if err != nil {
					return nil, badRequest("%s[%d].input is not valid JSON", path, j)
				}
				args = string(compact)
			}
			m.ToolCalls = append(m.ToolCalls, oToolCall{
				ID:       b.Get("id").String(),
				Type:     "function",
				Function: oFunction{Name: b.Get("name").String(), Arguments: args},
			})
		case "thinking", "redacted_thinking":
		default:
			return nil, badRequest("%s[%d]: a content block of type %q is not supported by OpenAI targets", path, j, t)
		}
	}
	switch {
	case len(texts) == 1:
		m.Content = texts[0].(oText).Text
	case len(texts) > 1:
		m.Content = texts
	case len(m.ToolCalls) == 0:
		m.Content = ""
	}
	return append(msgs, m), nil
}

// messagesTools converts Anthropic custom tools.
func messagesTools(v gjson.Result) ([]oTool, *Error) {
	if !v.Exists() || v.Type == gjson.Null {
		return nil, nil
	}
	if !v.IsArray() {
		return nil, badRequest("tools must be an array")
	}
	var tools []oTool
	for i, t := range v.Array() {
		typ := t.Get("type").String()
		schema := t.Get("input_schema")
		if (typ != "" && typ != "custom") || !schema.IsObject() {
			return nil, badRequest("tools[%d]: only custom tools with an input_schema can be sent to OpenAI targets (type %q)", i, typ)
		}
		tools = append(tools, oTool{Type: "function", Function: oFuncSchema{
			Name:        t.Get("name").String(),
			Description: t.Get("description").String(),
			Parameters:  json.RawMessage(schema.Raw),
		}})
	}
	return tools, nil
}
