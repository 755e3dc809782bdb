package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness is a worker wired to an in-memory lrotest fake, usable inside a
// synctest bubble.
type harness struct {
	t       *testing.T
	fake    *lrotest.Server
	w       *Worker
	m       *metrics.Metrics
	logs    *observer.ObservedLogs
	sink    *memSink
	ops     *countingOps
	table   *lro.Table
	settled settledLog
}

// fakeEndpoints points the built-in services at the in-memory fake.
var fakeEndpoints = lrotest.Endpoints{vault: "https://vault.fake", amapi: "https://amapi.fake"}

func newHarness(t *testing.T, cfg Config, fakeOpts lrotest.Options, yaml string) *harness {
	t.Helper()
	if yaml == "" {
		yaml = lrotest.ServicesYAML(fakeEndpoints, nil)
	}
	table, err := lro.ParseTable("test.yaml", []byte(yaml), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fakeOpts.Services == nil {
		fakeOpts.Services = table.Services()
	}
	fake := lrotest.New(fakeOpts)
	return wireHarness(t, cfg, table, fake, lro.Config{Auth: lro.AuthNone, Transport: fake.Transport()})
}

// wireHarness wires a worker for table to fake through a client configured
// by lc (its observer is the worker's metrics).
func wireHarness(t *testing.T, cfg Config, table *lro.Table, fake *lrotest.Server, lc lro.Config) *harness {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	lc.Observer = RequestObserver(m)
	client, err := lro.New(context.Background(), table, lc)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	h := &harness{t: t, fake: fake, m: m, logs: logs, sink: &memSink{}, ops: &countingOps{next: client}, table: table}
	h.w, err = New(cfg, Deps{Table: table, Ops: h.ops, Sink: h.sink, Log: zap.New(core), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.w.Close)
	return h
}

// delivery builds a delivery whose settlement is recorded in h.settled.
func (h *harness) delivery(id, data string, attrs map[string]string) Delivery {
	return Delivery{
		ID: id, Data: []byte(data), Attributes: attrs,
		Ack:  func() error { h.settled.add(id, "ack"); return nil },
		Nack: func() error { h.settled.add(id, "nack"); return nil },
	}
}

func (h *harness) jobs(service string, o Outcome) float64 {
	return testutil.ToFloat64(h.m.Jobs.WithLabelValues(service, string(o)))
}

// durations is how many job durations were observed for service and outcome.
func (h *harness) durations(service string, o Outcome) uint64 {
	var m dto.Metric
	if err := h.m.JobDuration.WithLabelValues(service, string(o)).(prometheus.Histogram).Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// outcomeLog returns the (first) log line of message ID id's outcome.
func (h *harness) outcomeLog(id string) (observer.LoggedEntry, bool) {
	if lines := h.outcomeLogs(id); len(lines) > 0 {
		return lines[0], true
	}
	return observer.LoggedEntry{}, false
}

// outcomeLogs returns the outcome log lines of message ID id, in order.
func (h *harness) outcomeLogs(id string) []observer.LoggedEntry {
	var out []observer.LoggedEntry
	for _, e := range h.logs.All() {
		if e.ContextMap()["messageId"] == id && e.ContextMap()["outcome"] != nil {
			out = append(out, e)
		}
	}
	return out
}

type settledLog struct {
	mu sync.Mutex
	m  map[string][]string
}

func (s *settledLog) add(id, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]string{}
	}
	s.m[id] = append(s.m[id], what)
}

func (s *settledLog) get(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.m[id]...)
}

// memSink records result events; fail makes Publish fail, panics makes it
// panic.
type memSink struct {
	mu     sync.Mutex
	events []Event
	attrs  []map[string]string
	fail   bool
	panics bool
}

func (s *memSink) Publish(_ context.Context, data []byte, attrs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panics {
		panic("a bug in publishing")
	}
	if s.fail {
		return errors.New("results topic unavailable")
	}
	var e Event
	if err := json.Unmarshal(data, &e); err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	s.events = append(s.events, e)
	s.attrs = append(s.attrs, attrs)
	return nil
}

func (s *memSink) byID(id string) (Event, map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.events {
		if e.MessageID == id {
			return e, s.attrs[i], true
		}
	}
	return Event{}, nil, false
}

// countingOps wraps the client to measure requests in flight, in all and
// per service; panicOn, when set, makes the requests for that name panic.
type countingOps struct {
	next    Operations
	mu      sync.Mutex
	cur     int
	peak    int
	calls   int
	enterAt []time.Time
	perCur  map[string]int
	perPeak map[string]int
	panicOn string
}

func (c *countingOps) enter(svc *lro.Service, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.perCur == nil {
		c.perCur, c.perPeak = map[string]int{}, map[string]int{}
	}
	c.cur++
	c.calls++
	c.peak = max(c.peak, c.cur)
	c.perCur[svc.Host]++
	c.perPeak[svc.Host] = max(c.perPeak[svc.Host], c.perCur[svc.Host])
	c.enterAt = append(c.enterAt, time.Now())
	if name == c.panicOn {
		c.cur--
		c.perCur[svc.Host]--
		panic("a bug in a request for " + name)
	}
}

func (c *countingOps) exit(svc *lro.Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur--
	c.perCur[svc.Host]--
}

func (c *countingOps) Cancel(ctx context.Context, svc *lro.Service, name string) error {
	c.enter(svc, name)
	defer c.exit(svc)
	return c.next.Cancel(ctx, svc, name)
}

func (c *countingOps) Get(ctx context.Context, svc *lro.Service, name string) (*lro.Operation, error) {
	c.enter(svc, name)
	defer c.exit(svc)
	return c.next.Get(ctx, svc, name)
}

// peakOf is the most requests to host that were in flight at once.
func (c *countingOps) peakOf(host string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.perPeak[host]
}

func (c *countingOps) stats() (peak, calls int, at []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peak, c.calls, append([]time.Time(nil), c.enterAt...)
}

// memSource hands its deliveries to the handler concurrently, then blocks
// until ctx is done and every handler has returned, like Pub/Sub's Receive.
type memSource struct {
	deliveries []Delivery
}

func (s *memSource) Receive(ctx context.Context, h Handler) error {
	var wg sync.WaitGroup
	for _, d := range s.deliveries {
		wg.Go(func() { h(ctx, d) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// requestTimes returns the offsets from start of the fake's requests of kind.
func requestTimes(h *harness, name, kind string, start time.Time) []time.Duration {
	var out []time.Duration
	for _, r := range h.fake.RequestsFor(name) {
		if r.Kind == kind {
			out = append(out, r.Time.Sub(start))
		}
	}
	return out
}
