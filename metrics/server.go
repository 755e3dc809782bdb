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

// Timeouts bound what one client may hold of a server: a connection that
// sends its request slowly, reads its answer slowly or stays idle is
// closed, so that neither server can be filled with connections that do
// nothing (docs/contract.md#opcancel-worker).
type Timeouts struct {
	// ReadHeader bounds the reading of a request's headers.
	ReadHeader time.Duration
	// Read bounds the reading of a whole request, headers and body.
	Read time.Duration
	// Write bounds the time from the end of a request's headers to the end
	// of its answer: the handler's work and the client's reading.
	Write time.Duration
	// Idle bounds the wait for the next request on a kept-alive connection.
	Idle time.Duration
}

// adminTimeouts are the admin server's. Probes and scrapes send no body and
// get small answers; Write leaves a scrape 30 s to gather and read, at
// least the scrape timeouts Prometheus is usually given; Idle outlasts the
// usual scrape intervals, so that a scraper keeps its connection.
var adminTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 30 * time.Second, Idle: 2 * time.Minute}

// profileTimeouts are the profile server's. A CPU profile (30 s by default)
// or an execution trace runs for its seconds parameter on top of Write:
// net/http/pprof moves the write deadline by that much (the
// TestProfileOutlastsTheWriteTimeout test holds it), so Write bounds only
// the sending of a profile or a goroutine dump, through a port-forward.
var profileTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 30 * time.Second, Idle: time.Minute}

// newHTTPServer is the http.Server of h with the timeouts t.
func newHTTPServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// NewServer serves the admin endpoints on ln with the metrics of g; /readyz
// answers 200 while ready returns true, 503 otherwise.
func NewServer(ln net.Listener, g prometheus.Gatherer, ready func() bool) *Server {
	return newServer(ln, g, ready, adminTimeouts)
}

func newServer(ln net.Listener, g prometheus.Gatherer, ready func() bool, t Timeouts) *Server {
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
	s.srv = newHTTPServer(mux, t)
	return s
}

// NewProfileServer serves Go's profiles (net/http/pprof under /debug/pprof/)
// on ln, and nothing else. It is a server of its own, never the admin one:
// profiles show the program's internals and cost CPU, so they are reached
// only where the operator opened them (see docs/runbooks/OpcancelStalled.md).
func NewProfileServer(ln net.Listener) *Server {
	return newProfileServer(ln, profileTimeouts)
}

func newProfileServer(ln net.Listener, t Timeouts) *Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &Server{ln: ln, srv: newHTTPServer(mux, t)}
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
