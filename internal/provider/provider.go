// Package provider defines what the gateway needs from an upstream AI
// service: send one attempt and hand back the HTTP response. Each kind
// (openai, sim, …) lives in its own subpackage; internal/provider/registry
// maps a config `type:` to its constructor. This package does not decide
// about retries, failover or health: the gateway and route packages do.
package provider

import (
	"context"
	"net/http"
	"time"
)

// Dialect is the shape of an AI API: the one a provider speaks, or the one
// a client calls relais in.
type Dialect uint8

const (
	// OpenAI is the Chat Completions API and everything that copies it.
	OpenAI Dialect = iota
	// Anthropic is the Messages API.
	Anthropic
)

func (d Dialect) String() string {
	if d == Anthropic {
		return "anthropic"
	}
	return "openai"
}

// Endpoint is one operation of the AI API. ChatCompletions is the chat
// operation in whatever dialect the provider speaks: an Anthropic provider
// sends it to /messages.
type Endpoint uint8

const (
	ChatCompletions Endpoint = iota
	Embeddings
	Models
	// Responses is OpenAI's Responses API, forwarded untranslated.
	Responses
)

// Path returns the endpoint's path relative to an OpenAI-style base URL.
func (e Endpoint) Path() string {
	switch e {
	case ChatCompletions:
		return "/chat/completions"
	case Embeddings:
		return "/embeddings"
	case Models:
		return "/models"
	case Responses:
		return "/responses"
	}
	return ""
}

func (e Endpoint) String() string {
	switch e {
	case ChatCompletions:
		return "chat_completions"
	case Embeddings:
		return "embeddings"
	case Models:
		return "models"
	case Responses:
		return "responses"
	}
	return "unknown"
}

// Call is one attempt at one target.
type Call struct {
	Endpoint Endpoint
	// Model is the provider's model name (already rewritten into Body).
	Model string
	// Body is the request body in the provider's dialect, ready to send.
	Body []byte
	// Stream is true when the client asked for a server-sent event stream.
	Stream bool
	// RequestID is relais's id for the client request, forwarded upstream.
	RequestID string
}

// Info is what the gateway needs to know of a provider to talk to it.
type Info struct {
	// Dialect is the API shape the provider's calls take; the gateway
	// translates a client's request when it differs.
	Dialect Dialect
	// DefaultMaxTokens is sent as max_tokens when a translated request has
	// none and the dialect requires it (Anthropic).
	DefaultMaxTokens int
}

// Provider sends calls to one upstream service.
type Provider interface {
	// Name is the provider's name in config.
	Name() string
	// Info describes the provider's API.
	Info() Info
	// Do sends the call. On success the caller owns resp.Body and must close it.
	// Errors are transport errors (connect, reset, canceled); HTTP error statuses
	// come back as responses.
	Do(ctx context.Context, c *Call) (*http.Response, error)
	// Close releases the provider's resources (idle connections, listeners).
	Close() error
}

// Options is what every kind's constructor receives besides its own spec.
type Options struct {
	// Name is the provider's name in config.
	Name string
	// ConnectTimeout bounds dialing and the TLS handshake.
	ConnectTimeout time.Duration
}
