package translate

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestErrorToOpenAI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		typ      string
		wantCode int
		wantType string
		code     string
	}{
		{400, "invalid_request_error", 400, "invalid_request_error", "invalid_request"},
		{401, "authentication_error", 401, "invalid_request_error", "invalid_api_key"},
		{402, "billing_error", 402, "insufficient_quota", "insufficient_quota"},
		{403, "permission_error", 403, "invalid_request_error", "permission_denied"},
		{404, "not_found_error", 404, "invalid_request_error", "not_found"},
		{413, "request_too_large", 413, "invalid_request_error", "request_too_large"},
		{429, "rate_limit_error", 429, "requests", "rate_limit_exceeded"},
		{500, "api_error", 500, "server_error", "server_error"},
		{504, "timeout_error", 504, "server_error", "timeout"},
		{529, "overloaded_error", 503, "server_error", "overloaded"},
	}
	var all strings.Builder
	for _, tt := range tests {
		body := fmt.Sprintf(`{"type":"error","error":{"type":%q,"message":"the %s message"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`, tt.typ, tt.typ)
		status, out := ErrorToOpenAI(tt.status, []byte(body))
		if status != tt.wantCode {
			t.Errorf("%d %s: status %d, want %d", tt.status, tt.typ, status, tt.wantCode)
		}
		e := gjson.GetBytes(out, "error")
		if e.Get("type").String() != tt.wantType || e.Get("code").String() != tt.code ||
			e.Get("message").String() != "the "+tt.typ+" message" || e.Get("param").Type != gjson.Null {
			t.Errorf("%d %s: body %s", tt.status, tt.typ, out)
		}
		fmt.Fprintf(&all, "%d %s -> %d %s\n", tt.status, tt.typ, status, out)
	}
	for _, c := range []struct {
		status int
		body   string
	}{
		{502, "<html>Bad Gateway</html>"},
		{529, ""},
		{418, `{"message":"not anthropic"}`},
		{200, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`},
		{500, `{"type":"error","error":{"type":"brand_new_error","message":"New"}}`},
	} {
		status, out := ErrorToOpenAI(c.status, []byte(c.body))
		if !json.Valid(out) {
			t.Errorf("invalid JSON: %s", out)
		}
		fmt.Fprintf(&all, "%d %q -> %d %s\n", c.status, c.body, status, out)
	}
	golden(t, "errors_to_openai", []byte(all.String()))
}

func TestErrorToAnthropic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status, want int
		typ          string
	}{
		{400, 400, "invalid_request_error"},
		{401, 401, "authentication_error"},
		{403, 403, "permission_error"},
		{404, 404, "not_found_error"},
		{413, 413, "request_too_large"},
		{422, 422, "invalid_request_error"},
		{429, 429, "rate_limit_error"},
		{500, 500, "api_error"},
		{502, 502, "api_error"},
		{503, 529, "overloaded_error"},
		{529, 529, "overloaded_error"},
	}
	var all strings.Builder
	for _, tt := range tests {
		body := fmt.Sprintf(`{"error":{"message":"status %d","type":"x","param":null,"code":null}}`, tt.status)
		status, out := ErrorToAnthropic(tt.status, []byte(body))
		if status != tt.want || gjson.GetBytes(out, "type").String() != "error" ||
			gjson.GetBytes(out, "error.type").String() != tt.typ ||
			gjson.GetBytes(out, "error.message").String() != fmt.Sprintf("status %d", tt.status) {
			t.Errorf("%d: got %d %s, want %d %s", tt.status, status, out, tt.want, tt.typ)
		}
		fmt.Fprintf(&all, "%d -> %d %s\n", tt.status, status, out)
	}
	for _, c := range []struct {
		status int
		body   string
	}{
		{502, "upstream connect error"},
		{500, `{"error":"plain text error"}`},
		{429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`},
	} {
		status, out := ErrorToAnthropic(c.status, []byte(c.body))
		fmt.Fprintf(&all, "%d %q -> %d %s\n", c.status, c.body, status, out)
	}
	golden(t, "errors_to_anthropic", []byte(all.String()))
}

func TestErrorBuilders(t *testing.T) {
	t.Parallel()
	if got, want := string(OpenAIError("server_error", "", "a \"quoted\" <msg>\n")), `{"error":{"message":"a \"quoted\" <msg>\n","type":"server_error","param":null,"code":null}}`; got != want {
		t.Errorf("OpenAIError = %s, want %s", got, want)
	}
	if got, want := string(OpenAIError("requests", "rate_limit_exceeded", "slow down")), `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`; got != want {
		t.Errorf("OpenAIError = %s, want %s", got, want)
	}
	for status, typ := range map[int]string{400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 503: "overloaded_error", 529: "overloaded_error"} {
		want := `{"type":"error","error":{"type":"` + typ + `","message":"m\u2028"}}`
		if got := string(AnthropicError(status, "m\u2028")); got != want {
			t.Errorf("AnthropicError(%d) = %s, want %s", status, got, want)
		}
	}
	if got := (&Error{Status: 400, Message: "bad"}).Error(); got != "bad" {
		t.Errorf("Error() = %q", got)
	}
}

// The named rows of errorKinds are the ones their names say.
func TestErrorKindIndexes(t *testing.T) {
	t.Parallel()
	for i, want := range map[int]string{kindInvalid: "invalid_request_error", kindAPIError: "api_error", kindOverload: "overloaded_error"} {
		if got := errorKinds[i].anthropic; got != want {
			t.Errorf("errorKinds[%d] is %s, want %s", i, got, want)
		}
	}
}
