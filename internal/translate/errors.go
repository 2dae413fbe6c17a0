package translate

import (
	"net/http"
	"strconv"

	"github.com/tidwall/gjson"
)

// errorKind is one row of the correspondence between the two APIs' errors.
type errorKind struct {
	status     int    // the status Anthropic answers with
	anthropic  string // Anthropic's error.type
	openAIType string // OpenAI's error.type
	code       string // OpenAI's error.code
}

// errorKinds follows Anthropic's error list; the OpenAI side uses the types
// and codes OpenAI and this gateway answer with for the same cause.
var errorKinds = [...]errorKind{
	{http.StatusBadRequest, "invalid_request_error", "invalid_request_error", "invalid_request"},
	{http.StatusUnauthorized, "authentication_error", "invalid_request_error", "invalid_api_key"},
	{http.StatusPaymentRequired, "billing_error", "insufficient_quota", "insufficient_quota"},
	{http.StatusForbidden, "permission_error", "invalid_request_error", "permission_denied"},
	{http.StatusNotFound, "not_found_error", "invalid_request_error", "not_found"},
	{http.StatusRequestEntityTooLarge, "request_too_large", "invalid_request_error", "request_too_large"},
	{http.StatusTooManyRequests, "rate_limit_error", "requests", "rate_limit_exceeded"},
	{http.StatusInternalServerError, "api_error", "server_error", "server_error"},
	{http.StatusGatewayTimeout, "timeout_error", "server_error", "timeout"},
	{statusOverloaded, "overloaded_error", "server_error", "overloaded"},
}

// statusOverloaded is Anthropic's own status for overload; OpenAI clients
// know 503 for it.
const statusOverloaded = 529

const (
	kindInvalid  = 0
	kindAPIError = 7
	kindOverload = 9
)

// kindByStatus picks the row for an HTTP status: 503 is overload, other
// statuses fall back to a generic client or server error.
func kindByStatus(status int) errorKind {
	for _, k := range errorKinds {
		if k.status == status {
			return k
		}
	}
	switch {
	case status == http.StatusServiceUnavailable:
		return errorKinds[kindOverload]
	case status >= 400 && status < 500:
		k := errorKinds[kindInvalid]
		k.status = status
		return k
	default:
		return errorKinds[kindAPIError]
	}
}

// kindByAnthropicType picks the row for an Anthropic error.type.
func kindByAnthropicType(typ string, status int) errorKind {
	for _, k := range errorKinds {
		if k.anthropic == typ {
			return k
		}
	}
	return kindByStatus(status)
}

// kindByOpenAI picks the row for an OpenAI error without a status (an
// in-band stream error) from its type and code.
func kindByOpenAI(typ, code string) errorKind {
	switch {
	case code == "overloaded":
		return errorKinds[kindOverload]
	case code == "rate_limit_exceeded" || typ == "requests" || typ == "tokens" || typ == "rate_limit_error":
		return kindByStatus(http.StatusTooManyRequests)
	case typ == "invalid_request_error":
		return errorKinds[kindInvalid]
	}
	return errorKinds[kindAPIError]
}

// ErrorToOpenAI turns an upstream Anthropic error answer (status, body) into
// the status and body an OpenAI client expects: {"error":{"message","type",
// "param":null,"code"}}. The message is kept; type and code follow
// Anthropic's error.type (see errorKinds). 529 becomes 503, which OpenAI
// clients retry as an overload; other statuses are kept (a status that is not
// an error becomes the usual one for the type). A body that is not an
// Anthropic error gets a message naming the status.
func ErrorToOpenAI(status int, body []byte) (int, []byte) {
	var k errorKind
	msg := ""
	if validJSON(body) {
		e := gjson.GetBytes(body, "error")
		if m := e.Get("message"); e.IsObject() && m.Type == gjson.String {
			k, msg = kindByAnthropicType(e.Get("type").String(), status), m.Str
		}
	}
	if msg == "" {
		k, msg = kindByStatus(status), upstreamMessage(status)
	}
	if status < 400 || status > 599 {
		status = k.status
	}
	if status == statusOverloaded {
		status = http.StatusServiceUnavailable
	}
	return status, OpenAIError(k.openAIType, k.code, msg)
}

// ErrorToAnthropic turns an upstream OpenAI error answer into the status and
// body an Anthropic client expects: {"type":"error","error":{"type",
// "message"}}, the type following the status. 503 becomes 529 with
// overloaded_error, Anthropic's overload. A body that is not an OpenAI error
// (nor {"error":"text"}) gets a message naming the status.
func ErrorToAnthropic(status int, body []byte) (int, []byte) {
	msg := ""
	if validJSON(body) {
		e := gjson.GetBytes(body, "error")
		switch {
		case e.Type == gjson.String:
			msg = e.Str
		case e.IsObject():
			msg = e.Get("message").String()
		}
	}
	if msg == "" {
		msg = upstreamMessage(status)
	}
	k := kindByStatus(status)
	if status == http.StatusServiceUnavailable || status < 400 || status > 599 {
		status = k.status
	}
	return status, appendAnthropicError(nil, k.anthropic, msg)
}

func upstreamMessage(status int) string {
	msg := "the upstream answered with status " + strconv.Itoa(status)
	if t := http.StatusText(status); t != "" {
		msg += " (" + t + ")"
	}
	return msg
}

// OpenAIError builds an OpenAI error body from scratch; an empty code is
// null.
func OpenAIError(typ, code, msg string) []byte {
	return appendOpenAIError(nil, typ, code, msg)
}

// AnthropicError builds an Anthropic error body from scratch, its type
// following status (529 or 503: overloaded_error, 429: rate_limit_error…).
func AnthropicError(status int, msg string) []byte {
	return appendAnthropicError(nil, kindByStatus(status).anthropic, msg)
}

func appendOpenAIError(dst []byte, typ, code, msg string) []byte {
	dst = append(dst, `{"error":{"message":`...)
	dst = appendString(dst, msg)
	dst = append(dst, `,"type":`...)
	dst = appendString(dst, typ)
	dst = append(dst, `,"param":null,"code":`...)
	if code == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, code)
	}
	return append(dst, "}}"...)
}

func appendAnthropicError(dst []byte, typ, msg string) []byte {
	dst = append(dst, `{"type":"error","error":{"type":`...)
	dst = appendString(dst, typ)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, msg)
	return append(dst, "}}"...)
}
