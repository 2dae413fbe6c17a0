package loadbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime"
	"runtime/metrics"
	"time"

	"github.com/relais/relais/internal/provider"
)

// BaselineOptions configure the plain reverse proxy relais is compared with.
type BaselineOptions struct {
	// Listen is the proxy's address; AdminListen serves /metrics with
	// go_goroutines, like relais's admin listener.
	Listen, AdminListen string
	// Upstream is the base URL requests go to, such as http://127.0.0.1:8081.
	Upstream string
	// UpstreamKey replaces the client's Authorization, as relais does.
	UpstreamKey string
	Logger      *slog.Logger
}

// ServeBaseline runs the baseline until ctx ends: an httputil.ReverseProxy
// with FlushInterval -1 and the same tuned transport relais uses towards its
// providers, so the comparison measures relais's own work and nothing else.
// It logs "baseline started" with its bound addresses, as relais does.
func ServeBaseline(ctx context.Context, o BaselineOptions) error {
	target, err := url.Parse(o.Upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("upstream %q is not a URL", o.Upstream)
	}
	auth := "Bearer " + o.UpstreamKey
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Set("Authorization", auth)
		},
		Transport:     provider.NewTransport(3*time.Second, 0),
		FlushInterval: -1,
		ErrorLog:      slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	// Without full duplex, net/http closes an HTTP/1.1 request body once the
	// handler first writes its response; a stream's headers can go out while
	// the Transport is still reading that body to EOF, and the failed body
	// write then makes it drop the upstream connection mid-stream.
	duplex := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		proxy.ServeHTTP(w, r)
	})
	gw, err := listen(ctx, o.Listen, duplex, o.Logger)
	if err != nil {
		return err
	}
	adm, err := listen(ctx, o.AdminListen, http.HandlerFunc(goroutines), o.Logger)
	if err != nil {
		_ = gw.srv.Close()
		return err
	}
	o.Logger.Info("baseline started", "gateway", gw.addr, "admin", adm.addr, "upstream", o.Upstream)
	<-ctx.Done()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	return errors.Join(gw.shutdown(shutCtx), adm.shutdown(shutCtx))
}

// goroutines answers in the Prometheus text format the series the
// benchmark reads from the baseline, under the names relais exposes them.
func goroutines(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "go_goroutines %d\ngo_memstats_stack_inuse_bytes %d\ngo_memstats_heap_inuse_bytes %d\ngo_gc_heap_live_bytes %d\n",
		runtime.NumGoroutine(), ms.StackInuse, ms.HeapInuse, live[0].Value.Uint64())
}

type server struct {
	srv  *http.Server
	addr string
	done chan error
}

func listen(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (*server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	s := &server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		addr: ln.Addr().String(),
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

func (s *server) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
