package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/relais/relais/internal/route"
)

// peeked is what the gateway needs to know of a request body without decoding it.
type peeked struct {
	model        string
	stream       bool
	includeUsage bool // the client asked for the usage chunk itself
	// Where the model's JSON string lies in the body, so rewrite can splice.
	modelAt, modelEnd int
	// open is the offset of the body's opening brace.
	open int
	// streamOptions: the body has a stream_options member.
	streamOptions bool
}

// peek validates the body as a JSON object and reads the few fields routing
// needs. The body is not decoded: when the target speaks the client's format
// it is forwarded as bytes with only `model` rewritten.
func peek(body []byte) (peeked, *apiError) {
	var p peeked
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return p, errInvalidRequest("request body is empty; send a JSON object", "")
	}
	if trimmed[0] != '{' || !gjson.ValidBytes(body) {
		return p, errInvalidRequest("request body is not valid JSON: "+jsonProblem(body), "")
	}
	m := gjson.GetBytes(body, "model")
	switch {
	case !m.Exists():
		return p, errInvalidRequest("you must provide a model parameter", "model")
	case m.Type != gjson.String || m.Str == "":
		return p, errInvalidRequest("model must be a non-empty string", "model")
	}
	p.model = m.Str
	p.modelAt, p.modelEnd = m.Index, m.Index+len(m.Raw)
	p.open = len(body) - len(trimmed)
	if s := view(body, "stream"); s.Exists() {
		if s.Type != gjson.True && s.Type != gjson.False && s.Type != gjson.Null {
			return p, errInvalidRequest("stream must be a boolean", "stream")
		}
		p.stream = s.Type == gjson.True
	}
	if p.stream {
		so := view(body, "stream_options")
		p.streamOptions = so.Exists()
		p.includeUsage = so.Get("include_usage").Type == gjson.True
	}
	return p, nil
}

// jsonProblem says where a body stops being JSON, for the 400 message.
func jsonProblem(body []byte) string {
	// encoding/json's scanner names the first bad byte exactly (a "}" closing
	// a "[", a trailing comma, a bad escape). It runs on the error path only;
	// Unmarshal checks the syntax before decoding, and an empty struct keeps
	// nothing.
	var se *json.SyntaxError
	if err := json.Unmarshal(body, &struct{}{}); errors.As(err, &se) && se.Offset > 0 && se.Offset <= int64(len(body)) &&
		!strings.HasPrefix(se.Error(), "unexpected end") {
		at := int(se.Offset) - 1 // Offset counts the bytes read, the bad one included
		line := 1 + bytes.Count(body[:at], []byte{'\n'})
		col := at - bytes.LastIndexByte(body[:at], '\n')
		return fmt.Sprintf("%s at line %d, column %d (offset %d)", se.Error(), line, col, at)
	}
	var depth, line, col = 0, 1, 0
	inStr, esc := false, false
	for i, c := range body {
		col++
		if c == '\n' {
			line, col = line+1, 0
		}
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
		case !inStr && (c == '}' || c == ']'):
			depth--
			if depth < 0 {
				return fmt.Sprintf("unexpected %q at line %d, column %d (offset %d)", c, line, col, i)
			}
		}
	}
	if inStr || depth > 0 {
		return "unexpected end of input (unclosed string, object or array)"
	}
	return "check the syntax near the values (quotes, commas, colons)"
}

// needs reads what a request asks of its target: tools, images, a JSON
// schema, and a rough prompt size in tokens (4 bytes a token).
func needs(body []byte) route.Needs {
	n := route.Needs{Tokens: len(body) / 4}
	if t := gjson.GetBytes(body, "tools"); t.IsArray() && len(t.Array()) > 0 {
		n.Caps |= route.Tools
	} else if f := gjson.GetBytes(body, "functions"); f.IsArray() && len(f.Array()) > 0 {
		n.Caps |= route.Tools
	}
	// Inside a JSON string a quote is escaped, so `"image_url"` (OpenAI) and
	// `"image"` (Anthropic's block type) only match a key or a type value.
	if bytes.Contains(body, []byte(`"image_url"`)) || bytes.Contains(body, []byte(`"image"`)) {
		n.Caps |= route.Vision
	}
	if gjson.GetBytes(body, "response_format.type").Str == "json_schema" {
		n.Caps |= route.JSONSchema
	}
	return n
}

// rewrite returns the body to send to a target of the client's dialect: the
// target's model, and with usage, for OpenAI chat streams, the usage chunk
// requested (relais needs usage even when the client did not ask; the extra
// chunk is stripped on the way back). The common case is spliced into one
// new slice; the client's body is never modified.
func rewrite(body []byte, model string, p peeked, usage bool) ([]byte, error) {
	addUsage := usage && p.stream && !p.includeUsage
	if p.modelEnd <= p.modelAt || (addUsage && p.streamOptions) || !plainJSONString(model) {
		return rewriteSlow(body, model, addUsage)
	}
	const usageMember = `"stream_options":{"include_usage":true},`
	out := make([]byte, 0, len(body)+len(model)+len(usageMember))
	start := 0
	if addUsage {
		out = append(out, body[:p.open+1]...)
		out = append(out, usageMember...)
		start = p.open + 1
	}
	out = append(out, body[start:p.modelAt]...)
	out = append(out, '"')
	out = append(out, model...)
	out = append(out, '"')
	return append(out, body[p.modelEnd:]...), nil
}

// rewriteSlow handles what splicing does not: a stream_options object to
// amend, or a model name that needs JSON escaping.
func rewriteSlow(body []byte, model string, addUsage bool) ([]byte, error) {
	out, err := sjson.SetBytes(body, "model", model)
	if err != nil {
		return nil, err
	}
	if addUsage {
		return sjson.SetBytesOptions(out, "stream_options.include_usage", true, &sjson.Options{ReplaceInPlace: true})
	}
	return out, nil
}

// plainJSONString reports whether s can go between quotes as it is.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// view reads path from a JSON body without copying it. The result aliases
// body: use it at once, and copy any string kept beyond the body's life.
func view(body []byte, path string) gjson.Result {
	return gjson.Get(unsafe.String(unsafe.SliceData(body), len(body)), path)
}
