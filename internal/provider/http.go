package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/relais/relais/internal/config"
)

// NewTransport returns the HTTP transport relais uses towards a provider:
// keep-alive connections sized for a gateway, HTTP/2 when the server offers
// it, bounded dial and TLS handshake, and no response header timeout (the
// gateway enforces its own per-attempt timeouts, which differ between
// streams and plain calls).
func NewTransport(connect time.Duration, maxIdle int) *http.Transport {
	if connect <= 0 {
		connect = 3 * time.Second
	}
	if maxIdle <= 0 {
		maxIdle = 512
	}
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   maxIdle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
		// Compression would make relais decode and re-encode streams.
		DisableCompression: true,
	}
}

// Sender sends a provider kind's calls over HTTP with the kind's fixed
// header. It uses transports directly: a gateway must not follow redirects
// or keep cookies, and skipping http.Client keeps a stream's goroutine
// stack small.
type Sender struct {
	header http.Header
	calls  *http.Transport
	// streams is calls, or an h2c transport: HTTP/2 by prior knowledge to an
	// http:// server, so thousands of open streams share a few connections
	// while short calls keep HTTP/1.1 keep-alive, which costs less CPU.
	streams *http.Transport
}

// NewSender returns a sender whose calls carry header. With h2c, streams go
// over HTTP/2 without TLS.
func NewSender(opts Options, header http.Header, maxIdle int, h2c bool) *Sender {
	s := &Sender{header: header, calls: NewTransport(opts.ConnectTimeout, maxIdle)}
	s.streams = s.calls
	if h2c {
		t := NewTransport(opts.ConnectTimeout, maxIdle)
		t.Protocols = new(http.Protocols)
		t.Protocols.SetHTTP2(true)
		t.Protocols.SetUnencryptedHTTP2(true)
		s.streams = t
	}
	return s
}

// Send sends c to url: a GET for Models, otherwise a POST of c.Body.
func (s *Sender) Send(ctx context.Context, url string, c *Call) (*http.Response, error) {
	method, body := http.MethodPost, io.Reader(bytes.NewReader(c.Body))
	if c.Endpoint == Models {
		method, body = http.MethodGet, http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header = s.header.Clone()
	if c.Stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	if c.RequestID != "" {
		req.Header.Set("X-Request-Id", c.RequestID)
	}
	if c.Stream {
		return s.streams.RoundTrip(req)
	}
	return s.calls.RoundTrip(req)
}

// Close drops idle connections.
func (s *Sender) Close() {
	s.calls.CloseIdleConnections()
	s.streams.CloseIdleConnections()
}

// BadHeaderValue is the problem of a config value that would go in a header.
const BadHeaderValue = "contains characters that cannot be sent in an HTTP header (a trailing newline?)"

// ValidateHeaders checks a provider entry's extra headers: names, and
// values that can be sent.
func ValidateHeaders(headers map[string]config.Secret) []config.Problem {
	var ps []config.Problem
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		if !httpguts.ValidHeaderFieldName(k) {
			ps = append(ps, config.Problem{Path: "headers", Message: fmt.Sprintf("%q is not a valid header name", k)})
		} else if !httpguts.ValidHeaderFieldValue(headers[k].Value()) {
			ps = append(ps, config.Problem{Path: "headers." + k, Message: BadHeaderValue})
		}
	}
	return ps
}
