package worker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestAFloodWaitsItsTurn: 300 jobs for a service at rate: 5 wait to start
// behind its start line (5 jobs, a second of its rate), holding nothing but
// their message. The flood's jobs end at the pace of its rate from the
// start, each poll waiting behind at most the start line, not behind the
// whole flood's cancels; another service's jobs, arriving meanwhile, start
// and end at once.
func TestAFloodWaitsItsTurn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const flood, others = 300, 50
		h := newHarness(t, DefaultConfig(), lrotest.Options{Latency: 20 * time.Millisecond, Default: func(string) *lrotest.Script { return &lrotest.Script{} }},
			lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: "rate: 5"}))
		var wg sync.WaitGroup
		for i := range flood {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("f%d", i), fmt.Sprintf("operations/f%d", i), nil))
			})
		}
		time.Sleep(10 * time.Second)
		// 50 requests in 10 s, two per job: about 24 jobs done. With every
		// cancel in line before the first poll, none would be before 60 s.
		if got := h.jobs(vault, Cancelled); got < 20 {
			t.Errorf("after 10 s, %v of the flood's jobs done, want about 24: they end at the pace of the rate", got)
		}
		if got := testutil.ToFloat64(h.m.JobsQueued.WithLabelValues(vault, vaultAt)); got < flood-5-30 {
			t.Errorf("opcancel_jobs_queued{%s} = %v, want the flood's jobs behind its start line", vault, got)
		}
		// In line: the start line's 5 first requests, and the polls of the
		// jobs started in the last few seconds (2.5 a second).
		if got := testutil.ToFloat64(h.m.APIRequestsQueued.WithLabelValues(vault, vaultAt)); got > 15 {
			t.Errorf("opcancel_api_requests_queued{%s} = %v, want its start line (5) and a few polls", vault, got)
		}

		start := time.Now()
		var rest sync.WaitGroup
		for i := range others {
			rest.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("a%d", i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		rest.Wait()
		// A cancel, the wait before the poll (1 s ± 20 %), a poll.
		if d := time.Since(start); d > 1300*time.Millisecond {
			t.Errorf("%d jobs of another service took %v beside the flood", others, d)
		}
		if got := h.jobs(amapi, Cancelled); got != others {
			t.Errorf("other service: cancelled = %v, want %d", got, others)
		}

		wg.Wait()
		if got := h.jobs(vault, Cancelled); got != flood {
			t.Errorf("flood: cancelled = %v, want %d", got, flood)
		}
		// Each poll waited at most the 1.2 s before it and its turn behind
		// the start line and a few polls, at 5 requests/s: about 3 s.
		var worst time.Duration
		for i := range flood {
			var cancelAt, getAt time.Time
			for _, r := range h.fake.RequestsFor(fmt.Sprintf("operations/f%d", i)) {
				switch r.Kind {
				case "cancel":
					cancelAt = r.Time
				case "get":
					getAt = r.Time
				}
			}
			worst = max(worst, getAt.Sub(cancelAt))
		}
		if worst > 4*time.Second {
			t.Errorf("a flood job's poll came %v after its cancel, want within about 3 s", worst)
		}
	})
}

// TestWaitingToStartSpendsTheBudgetOnlyWhileTheEndpointIsSilent: a flood
// at rate: 2 waits to start, longer than the retry budget, behind a
// healthy endpoint; then the endpoint hangs. The wait to start is part of
// the wait for a job's first request, so the hung endpoint's backlog ends
// retry_exhausted (nacked) when the budget does, not a start line's worth
// per budget (TestOneLocationHangingSlowsNoOther); but it counts only from
// the endpoint's last answer: no job ends before the endpoint has answered
// nothing for the whole budget.
func TestWaitingToStartSpendsTheBudgetOnlyWhileTheEndpointIsSilent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const flood = 200
		var hang atomic.Bool
		cfg := DefaultConfig()
		h := newHarness(t, cfg, lrotest.Options{
			Latency: 20 * time.Millisecond,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(*http.Request) *lrotest.Answer {
				if hang.Load() {
					return &lrotest.Answer{Hang: true}
				}
				return nil
			},
		}, lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: "rate: 2"}))
		start := time.Now()
		var mu sync.Mutex
		var exhausted []time.Duration
		var wg sync.WaitGroup
		for i := range flood {
			wg.Go(func() {
				if h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("f%d", i), fmt.Sprintf("operations/f%d", i), nil)) == RetryExhausted {
					mu.Lock()
					exhausted = append(exhausted, time.Since(start))
					mu.Unlock()
				}
			})
		}
		// Two requests a job at 2 a second: about 150 jobs done by then,
		// the rest waiting to start for longer than the budget.
		const hangAt = 150 * time.Second
		time.Sleep(hangAt)
		synctest.Wait()
		backlog := int(testutil.ToFloat64(h.m.JobsQueued.WithLabelValues(vault, vaultAt)))
		hang.Store(true)
		wg.Wait()
		if backlog < 20 {
			t.Fatalf("%d jobs waiting to start when the endpoint hung, want the flood's rest", backlog)
		}
		slices.Sort(exhausted)
		if first, want := exhausted[0], hangAt+cfg.RetryBudget-time.Second; first < want {
			t.Errorf("the first job ended retry_exhausted at %v, want after %v: the endpoint's silence has to last the budget", first, want)
		}
		// Of the jobs that waited to start, all but the start line's 2,
		// which may have sent their first request as the endpoint hung
		// and retried it on their own budget, end within two requests'
		// timeouts of the budget (the first requests hung in flight hold
		// the endpoint's turn until theirs).
		by := hangAt + cfg.RetryBudget + 2*lro.DefaultRequestTimeout
		if n, _ := slices.BinarySearch(exhausted, by); n < backlog-2 {
			t.Errorf("%d jobs ended retry_exhausted by %v, want the %d that waited to start but 2: the wait to start spends the budget", n, by, backlog)
		}
	})
}

// TestEachSourceHasItsOwnWindow: with two sources, each holds at most half
// of MaxOutstanding. A flood on one fills its half only; the other's
// deliveries, which come later, are all held and handled at once.
func TestEachSourceHasItsOwnWindow(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxOutstanding = 20
		cfg.ShutdownTimeout = 0
		h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }},
			lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: "rate: 1"}))
		flood := &laterSource{}
		for i := range 100 {
			flood.deliveries = append(flood.deliveries, h.delivery(fmt.Sprintf("f%d", i), fmt.Sprintf("operations/f%d", i), nil))
		}
		others := &laterSource{after: time.Second}
		for i := range 10 {
			others.deliveries = append(others.deliveries, h.delivery(fmt.Sprintf("a%d", i), fmt.Sprintf("%so%d", dev, i), nil))
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { errc <- h.w.Run(ctx, flood, others) }()
		time.Sleep(500 * time.Millisecond)
		if got := testutil.ToFloat64(h.m.JobsInFlight); got != 10 {
			t.Errorf("the flood's source holds %v deliveries, want its window, 10", got)
		}
		time.Sleep(3 * time.Second)
		for i := range 10 {
			if got := h.settled.get(fmt.Sprintf("a%d", i)); len(got) != 1 || got[0] != "ack" {
				t.Errorf("a%d = %v 2.5 s after its delivery, want ack", i, got)
			}
		}
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}

// laterSource hands its deliveries to the handler concurrently after a
// while, then blocks until ctx is done and every handler has returned.
type laterSource struct {
	deliveries []Delivery
	after      time.Duration
}

func (s *laterSource) Receive(ctx context.Context, h Handler) error {
	select {
	case <-time.After(s.after):
	case <-ctx.Done():
		return nil
	}
	return (&memSource{deliveries: s.deliveries}).Receive(ctx, h)
}
