package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/metrics"
)

// fakeAPICmd is `opcancel fake-api`: the demo's fake operations API as a
// server, for development clusters (deploy/overlays/dev) and load tests.
type fakeAPICmd struct {
	Listen  string        `default:":8080" help:"Address to serve the fake operations API on."`
	Latency time.Duration `default:"50ms" help:"Latency of every answer."`
	Mix     string        `default:"cancelled=75,completed=10,unimplemented=5,transient=5,not_found=5" help:"Relative weights of the kinds of operation, as for demo; an operation's kind follows from a hash of its name."`
}

func (c *fakeAPICmd) Run(ctx context.Context, e *env) error {
	const buckets = 1000
	counts, err := parseMix(c.Mix, buckets)
	if err != nil {
		return err
	}
	// kinds[i] is the kind of names hashing to bucket i.
	var kinds []string
	for _, k := range mixKinds {
		for range counts[k.name] {
			kinds = append(kinds, k.name)
		}
	}
	fake := lrotest.New(lrotest.Options{
		Latency:    c.Latency,
		DontRecord: true,
		Default: func(name string) *lrotest.Script {
			h := fnv.New32a()
			h.Write([]byte(name))
			return kindScript(kinds[h.Sum32()%buckets])
		},
	})
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "fake operations API on %s (mix %s)\n", ln.Addr(), c.Mix)
	return metrics.Serve(ctx, srv, ln, 5*time.Second)
}
