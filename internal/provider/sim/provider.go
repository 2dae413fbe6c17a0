package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/relais/relais/internal/clock"
	"github.com/relais/relais/internal/provider"
	"github.com/relais/relais/internal/provider/anthropic"
	"github.com/relais/relais/internal/provider/openai"
)

// closeGrace is how long Close lets answers in flight finish before it
// drops their connections.
const closeGrace = 5 * time.Second

// Provider is a sim Server on a loopback port, called through the openai or
// anthropic provider kind (as its dialect says) so that every call crosses
// real HTTP.
type Provider struct {
	up         provider.Provider
	server     *Server
	url        string
	httpServer *http.Server
	stop       context.CancelFunc // ends the handlers still running after closeGrace
	served     chan struct{}      // closed when Serve has returned

	closeOnce sync.Once
	closeErr  error
}

var _ provider.Provider = (*Provider)(nil)

// New starts a sim server for s on 127.0.0.1 and returns the provider that
// calls it. Close stops the server.
func New(opts provider.Options, s *Spec) (*Provider, error) {
	if ps := s.Validate(); len(ps) > 0 {
		msgs := make([]string, len(ps))
		for i, p := range ps {
			msgs[i] = p.String()
		}
		return nil, fmt.Errorf("invalid sim spec: %s", strings.Join(msgs, "; "))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sim listener: %w", err)
	}
	url := "http://" + ln.Addr().String()
	var up provider.Provider
	if s.Dialect == dialectAnthropic {
		up, err = anthropic.New(opts, &anthropic.Spec{BaseURL: url + "/v1"})
	} else {
		up, err = openai.New(opts, &openai.Spec{BaseURL: url})
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	server := NewServer(s, clock.Real{})
	ctx, stop := context.WithCancel(context.Background())
	p := &Provider{
		up:     up,
		server: server,
		url:    url,
		httpServer: &http.Server{
			Handler:           server,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       time.Minute,
			// Slow streams and hung calls last as long as the client waits;
			// this only bounds a client that never gives up.
			WriteTimeout: 15 * time.Minute,
			IdleTimeout:  2 * time.Minute,
			BaseContext:  func(net.Listener) context.Context { return ctx },
		},
		stop:   stop,
		served: make(chan struct{}),
	}
	go func() {
		defer close(p.served)
		// Serve returns ErrServerClosed once Close has begun: nothing to report.
		_ = p.httpServer.Serve(ln)
	}()
	return p, nil
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.up.Name() }

// Info describes the sim's API: the dialect of its spec and, for anthropic,
// the anthropic kind's default max_tokens (4096).
func (p *Provider) Info() provider.Info { return p.up.Info() }

// Do sends the call to the sim server over HTTP.
func (p *Provider) Do(ctx context.Context, c *provider.Call) (*http.Response, error) {
	return p.up.Do(ctx, c)
}

// URL is the sim server's base URL, e.g. http://127.0.0.1:41234.
func (p *Provider) URL() string { return p.url }

// Server is the simulated API behind the provider (its schedule and start).
func (p *Provider) Server() *Server { return p.server }

// Close stops the server: it lets answers in flight finish for a few
// seconds, then drops their connections. It is safe to call more than once.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		err := p.httpServer.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			// Closing the connections first means no late handler can still
			// reach a client once stop wakes it.
			err = p.httpServer.Close()
		}
		p.stop()
		<-p.served
		p.closeErr = errors.Join(err, p.up.Close())
	})
	return p.closeErr
}
