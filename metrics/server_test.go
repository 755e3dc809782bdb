package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The servers' timeouts, each tested over a real socket: synctest bubbles
// cannot hold one. Each test configures one timeout short (tick) and the
// others long, so that net/http's fallbacks (ReadTimeout stands in for a
// missing ReadHeaderTimeout or IdleTimeout) cannot pass the test in its
// place; every wait is a multiple of the short one.

const (
	tick = 100 * time.Millisecond
	long = time.Hour
	// patience is how long a client waits for the server to end a
	// connection that tick should have ended.
	patience = 50 * tick
)

// serverKind makes one of the package's servers with timeouts t, and names
// a path it answers with GET.
type serverKind struct {
	name string
	make func(ln net.Listener, t Timeouts) *Server
	path string
}

var serverKinds = []serverKind{
	{"admin", func(ln net.Listener, t Timeouts) *Server {
		return newServer(ln, prometheus.NewRegistry(), func() bool { return true }, t)
	}, "/healthz"},
	{"profile", newProfileServer, "/debug/pprof/cmdline"},
}

// start runs s on a loopback port until the test ends.
func start(t *testing.T, mk func(net.Listener, Timeouts) *Server, tm Timeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := mk(ln, tm)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return s.Addr().String()
}

// endsWithin sends raw on a new connection to addr and reads until the
// server closes it; it fails the test unless that happens within patience.
// It returns what the server sent.
func endsWithin(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(patience))
	got, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the server still held the connection after %v (sent %q)", patience, got)
	}
	return string(got)
}

// TestStalledConnectionsAreClosed: on both servers, a client that never
// finishes its headers (slowloris) is cut off after ReadHeader; one that
// announces a body and never sends it, after Read (the server reads what
// is left of a body before it answers); a kept-alive connection with no
// next request, after Idle, its first answer delivered.
func TestStalledConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		short    Timeouts
		request  string
		answered bool
	}{
		{"slow headers", Timeouts{ReadHeader: tick, Read: long, Write: long, Idle: long}, "GET %s HTTP/1.1\r\nHost: x\r\n", false},
		{"slow body", Timeouts{ReadHeader: long, Read: tick, Write: long, Idle: long}, "GET %s HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", false},
		{"idle", Timeouts{ReadHeader: long, Read: long, Write: long, Idle: tick}, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", true},
	}
	for _, k := range serverKinds {
		for _, c := range cases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				addr := start(t, k.make, c.short)
				got := endsWithin(t, addr, fmt.Sprintf(c.request, k.path))
				if !c.answered {
					return
				}
				resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("the first request got %q, want a 200 before the close", got)
				}
			})
		}
	}
}

// slowGatherer takes d to gather nothing: a scrape whose answer is late.
type slowGatherer time.Duration

func (g slowGatherer) Gather() ([]*dto.MetricFamily, error) {
	<-time.After(time.Duration(g))
	return nil, nil
}

// TestLateAnswersAreCutOff: an admin answer not written within Write is
// never sent; the connection is closed instead.
func TestLateAnswersAreCutOff(t *testing.T) {
	t.Parallel()
	addr := start(t, func(ln net.Listener, tm Timeouts) *Server {
		return newServer(ln, slowGatherer(5*tick), func() bool { return true }, tm)
	}, Timeouts{ReadHeader: long, Read: long, Write: tick, Idle: long})
	if got := endsWithin(t, addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); got != "" {
		t.Errorf("the server answered after its write timeout: %q", got)
	}
}

// TestProfileOutlastsTheWriteTimeout: a CPU profile longer than the write
// timeout is still delivered, whole (net/http/pprof moves the deadline by
// the profile's seconds), so the default 30 s profile fits the profile
// server's 30 s write timeout.
//
// As there, the write timeout is what the server has left, once the
// profile has run, to stop it and write it: here just under the profile's
// length, so that a deadline not moved cuts the profile off, and one moved
// leaves about as long to write it as the profile took (a quarter of that
// was too little for a busy machine).
func TestProfileOutlastsTheWriteTimeout(t *testing.T) {
	t.Parallel()
	const seconds = 2
	write := seconds*time.Second - time.Millisecond
	addr := start(t, newProfileServer, Timeouts{ReadHeader: long, Read: long, Write: write, Idle: long})
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, seconds))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	// A CPU profile is gzipped protobuf.
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "\x1f\x8b") {
		t.Errorf("a %d s profile with a write timeout of %v: %d, %d bytes, %v", seconds, write, resp.StatusCode, len(body), err)
	}
}

// TestServersHaveEveryTimeout: both servers are made with all four bounds.
func TestServersHaveEveryTimeout(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]*Server{
		"admin":   NewServer(nil, prometheus.NewRegistry(), func() bool { return true }),
		"profile": NewProfileServer(nil),
	} {
		want := map[string]Timeouts{"admin": adminTimeouts, "profile": profileTimeouts}[name]
		got := Timeouts{s.srv.ReadHeaderTimeout, s.srv.ReadTimeout, s.srv.WriteTimeout, s.srv.IdleTimeout}
		if got != want || got.ReadHeader <= 0 || got.Read <= 0 || got.Write <= 0 || got.Idle <= 0 {
			t.Errorf("%s server timeouts %+v, want %+v, each positive", name, got, want)
		}
	}
}
