package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server is the admin HTTP server (/metrics, /healthz and /readyz), or the
// opt-in server of Go's profiles (NewProfileServer).
type Server struct {
	ln    net.Listener
	srv   *http.Server
	ready func() bool
}

// NewServer serves the admin endpoints on ln with the metrics of g; /readyz
// answers 200 while ready returns true, 503 otherwise.
func NewServer(ln net.Listener, g prometheus.Gatherer, ready func() bool) *Server {
	s := &Server{ln: ln, ready: ready}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s
}

// NewProfileServer serves Go's profiles (net/http/pprof under /debug/pprof/)
// on ln, and nothing else. It is a server of its own, never the admin one:
// profiles show the program's internals and cost CPU, so they are reached
// only where the operator opened them (see docs/runbooks/OpcancelStalled.md).
func NewProfileServer(ln net.Listener) *Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &Server{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// shutdownGrace bounds the shutdown of the admin and profile servers.
const shutdownGrace = 3 * time.Second

// Run serves until ctx is done, then shuts down within a few seconds.
func (s *Server) Run(ctx context.Context) error {
	return Serve(ctx, s.srv, s.ln, shutdownGrace)
}

// Serve serves srv on ln until ctx is done, then shuts srv down, waiting
// at most grace for the requests in progress. It returns once srv has
// stopped serving: nil after a clean shutdown, else why serving ended or
// the shutdown failed. Every HTTP server of the binary runs through it.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
