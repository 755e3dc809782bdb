package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/worker"
)

// The built-in services, which the scenarios' fakes stand in for.
const (
	vaultHost = "vault.googleapis.com"
	amapiHost = "androidmanagement.googleapis.com"
)

// rig is a worker wired as `opcancel worker` wires it, minus Pub/Sub: the
// same lro client with the metrics observer, the same metrics, a JSON logger
// (to nowhere).
type rig struct {
	w     *worker.Worker
	m     *metrics.Metrics
	table *lro.Table
}

// sendLog records when requests leave, as the lro client starts them.
type sendLog struct {
	lro.Observer
	mu    sync.Mutex
	times []time.Time
}

func (l *sendLog) RequestStarted(service, method string) {
	l.mu.Lock()
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
	l.Observer.RequestStarted(service, method)
}

func newRig(cfg worker.Config, yaml string, transport http.RoundTripper) (*rig, error) {
	return newRigObserved(cfg, yaml, transport, nil, nil)
}

// newRigObserved is newRig with a log of send times and, with tokens,
// bearer tokens from it (auth adc) instead of none.
func newRigObserved(cfg worker.Config, yaml string, transport http.RoundTripper, sends *sendLog, tokens lro.TokenSourceFunc) (*rig, error) {
	table, err := lro.ParseTable("bench.yaml", []byte(yaml), lro.FileOptions{})
	if err != nil {
		return nil, err
	}
	m := metrics.New(prometheus.NewRegistry())
	var observer lro.Observer = worker.RequestObserver(m)
	if sends != nil {
		sends.Observer = observer
		observer = sends
	}
	auth := lro.AuthNone
	if tokens != nil {
		auth = lro.AuthADC
	}
	client, err := lro.New(context.Background(), table, lro.Config{
		Auth: auth, TokenSource: tokens, Transport: transport, MaxConnsPerHost: cfg.Concurrency,
		Observer: observer,
	})
	if err != nil {
		return nil, err
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	w, err := worker.New(cfg, worker.Deps{Table: table, Ops: client, Log: log, Metrics: m})
	if err != nil {
		return nil, err
	}
	return &rig{w: w, m: m, table: table}, nil
}

// completions records when each job settled.
type completions struct {
	mu    sync.Mutex
	times []time.Time
	nacks int
}

func (c *completions) done(nack bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, time.Now())
	if nack {
		c.nacks++
	}
}

func (c *completions) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.times)
}

// steadyRate is the completion rate between the 10th and 90th percentile
// completions: the ramp-up and the tail are left out.
func (c *completions) steadyRate() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := slices.Clone(c.times)
	slices.SortFunc(t, func(a, b time.Time) int { return a.Compare(b) })
	if len(t) < 10 {
		return 0
	}
	lo, hi := len(t)/10, len(t)*9/10
	return float64(hi-lo) / t[hi].Sub(t[lo]).Seconds()
}

// feed hands n deliveries to the worker, holding at most maxOutstanding at
// once (as Pub/Sub's flow control does), and waits for all of them.
func (r *rig) feed(ctx context.Context, n, maxOutstanding int, name func(i int) string, c *completions) {
	r.receive(ctx, nameQueue(ctx, n, name), maxOutstanding, c)
}

// nameQueue is a queue of n names, closed after the last or when ctx ends.
func nameQueue(ctx context.Context, n int, name func(i int) string) <-chan string {
	names := make(chan string)
	go func() {
		defer close(names)
		for i := range n {
			select {
			case names <- name(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	return names
}

// receive hands the worker a delivery for each name from names (one
// subscription, which other rigs may share), holding at most maxOutstanding
// at once, until names is closed or ctx ends, and waits for all of them. A
// message's ID is its name.
func (r *rig) receive(ctx context.Context, names <-chan string, maxOutstanding int, c *completions) {
	sem := make(chan struct{}, maxOutstanding) // the flow-control window
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		var name string
		var ok bool
		select {
		case name, ok = <-names:
		case <-ctx.Done():
		}
		if !ok {
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			d := worker.Delivery{
				ID:   name,
				Data: []byte(name),
				Ack:  func() error { c.done(false); return nil },
				Nack: func() error { c.done(true); return nil },
			}
			r.w.Handle(ctx, d)
		})
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentBytes is the process's resident set size.
func residentBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// outcomeCounts is the count of each outcome the rig's worker recorded for
// the Vault service, the outcomes never recorded left out.
func outcomeCounts(r *rig) map[string]float64 {
	counts := map[string]float64{}
	for _, o := range worker.Outcomes() {
		if n := testutil.ToFloat64(r.m.Jobs.WithLabelValues(vaultHost, string(o))); n > 0 {
			counts[string(o)] = n
		}
	}
	return counts
}
