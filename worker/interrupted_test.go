package worker

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
	"opcancel/metrics"
)

// TestInterruptedUnderItsService: a delivery interrupted by shutdown before
// it was worked on, while it waited for a place (all --max-outstanding
// held) or for the first copy of its message, is counted under the service
// it names, as every other outcome is; once every rollout added
// service="unknown"/interrupted and undercounted the real service.
func TestInterruptedUnderItsService(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		maxOutstanding int
		// firstGoesOn keeps the first delivery going after the shutdown
		// of the second, as a first copy may until the shutdown timeout.
		firstGoesOn bool
	}{
		{"waiting for a place", 1, false},
		{"waiting for the first copy", 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.MaxOutstanding = tt.maxOutstanding
				h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{DoneAfterPolls: lrotest.Never} }}, "")
				ctx, shutdown := context.WithCancel(context.Background())
				firstCtx, stopFirst := ctx, shutdown
				if tt.firstGoesOn {
					firstCtx, stopFirst = context.WithCancel(context.Background())
				}
				var first sync.WaitGroup
				first.Go(func() { h.w.Handle(firstCtx, h.delivery("waiting", "operations/waiting", nil)) })
				time.Sleep(time.Second) // the first delivery is in flight
				done := make(chan Outcome)
				go func() { done <- h.w.Handle(ctx, h.delivery("waiting", "operations/waiting", nil)) }()
				synctest.Wait()
				shutdown()
				if got := <-done; got != Interrupted {
					t.Fatalf("outcome %s, want interrupted", got)
				}
				stopFirst()
				first.Wait()
				if n := h.jobs(metrics.UnknownService, Interrupted); n != 0 {
					t.Errorf("unknown/interrupted = %v, want 0", n)
				}
				if n := h.jobs(vault, Interrupted); n != 2 {
					t.Errorf("%s/interrupted = %v, want 2: both deliveries", vault, n)
				}
				for _, e := range h.outcomeLogs("waiting") {
					if e.ContextMap()["service"] != vault {
						t.Errorf("log line %v, want service %s", e.ContextMap(), vault)
					}
				}
			})
		})
	}
}
