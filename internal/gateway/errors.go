package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/translate"
)

// apiError is an error in OpenAI's shape: {"error":{"message","type","param","code"}}.
type apiError struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
	Code    string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

// writeError answers e in the client's dialect.
func writeError(w http.ResponseWriter, d provider.Dialect, e *apiError) {
	var b []byte
	if d == provider.Anthropic {
		b = translate.AnthropicError(e.Status, e.Message)
	} else {
		b, _ = json.Marshal(struct {
			Error *apiError `json:"error"`
		}{e})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(b, '\n'))
}

func setRetryAfter(h http.Header, d time.Duration) {
	secs := int((d + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
}

func errInvalidRequest(msg, param string) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Message: msg, Type: "invalid_request_error", Code: "invalid_request"}
	if param != "" {
		e.Param = param
	}
	return e
}
