package translate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"unsafe"

	"github.com/tidwall/gjson"
)

// Usage is token accounting in either dialect (see the package comment for
// what Input counts).
type Usage struct {
	Input, Output, CachedInput int
}

// Error is a client-side problem found while translating a request (an
// invalid body, a feature the target cannot express). Status is the HTTP
// status to answer, Message says what to change.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// maxDepth bounds the nesting of JSON this package reads. gjson recurses
// once per level; an unbounded depth in a body of a few MiB could exhaust the
// stack, which is a fatal error rather than a panic. encoding/json stops at
// the same depth.
const maxDepth = 10000

// tooDeep reports whether b nests arrays or objects deeper than maxDepth. A
// body shorter than maxDepth cannot, so the hot path skips the scan.
func tooDeep(b []byte) bool {
	if len(b) <= maxDepth {
		return false
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > maxDepth {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}

// validJSON reports whether b is one well-formed JSON value of bounded depth:
// only then are the Raw texts gjson returns valid JSON that can be copied
// into an answer as they are.
func validJSON(b []byte) bool {
	return !tooDeep(b) && gjson.ValidBytes(b)
}

// view returns b as a string without copying. The string must not outlive
// the call that made it, as the caller may reuse b: every Result read from it
// is either copied or appended to an output before the call returns.
func view(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// marshal encodes v without HTML escaping and without encoding/json's
// trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("translate: encode: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// sanitizeID makes a tool call id acceptable to Anthropic, which allows only
// [A-Za-z0-9_-]; OpenAI-compatible servers use ids such as
// "functions.get_weather:0". The mapping is the same wherever the id shows up
// (a tool call and the result that names it), so they still match.
func sanitizeID(id string) string {
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			b := []byte(id)
			for j := i; j < len(b); j++ {
				if !idChar(b[j]) {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return id
}

func idChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// finishReason maps an Anthropic stop_reason to an OpenAI finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	default: // end_turn, stop_sequence, pause_turn, and any reason added later
		return "stop"
	}
}

// stopReason maps an OpenAI finish_reason to an Anthropic stop_reason.
func stopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	default:
		return "end_turn"
	}
}
