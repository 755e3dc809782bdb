package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

func TestMaxOutstandingBound(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MaxOutstanding = 5
		h := newHarness(t, cfg, lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{DoneAfterPolls: 5} }}, "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		peak := 0.0
		for i := range 30 {
			wg.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprint(i), fmt.Sprintf("operations/o%d", i), nil))
			})
		}
		for range 200 {
			time.Sleep(time.Second)
			mu.Lock()
			peak = max(peak, testutilCounter(h.m.JobsInFlight))
			mu.Unlock()
		}
		wg.Wait()
		if peak != 5 {
			t.Errorf("peak jobs held = %v, want MaxOutstanding 5", peak)
		}
	})
}

func TestRunShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.ShutdownTimeout = 10 * time.Second
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/quick", lrotest.Script{DoneAfterPolls: 2}) // done at about 7s
		h.fake.Set("operations/never", lrotest.Script{DoneAfterPolls: lrotest.Never})
		src := &memSource{deliveries: []Delivery{
			h.delivery("quick", "operations/quick", nil),
			h.delivery("never", "operations/never", nil),
		}}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { errc <- h.w.Run(ctx, src) }()
		time.Sleep(time.Second)
		cancel()
		stop := time.Now()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if d := time.Since(stop); d != 10*time.Second {
			t.Errorf("Run returned %v after shutdown began, want the 10s shutdown timeout", d)
		}
		if got := h.settled.get("quick"); len(got) != 1 || got[0] != "ack" {
			t.Errorf("quick = %v, want it to finish (ack) during the drain", got)
		}
		if got := h.settled.get("never"); len(got) != 1 || got[0] != "nack" {
			t.Errorf("never = %v, want nack (interrupted)", got)
		}
		if h.jobs(vault, Interrupted) != 1 || h.jobs(vault, Cancelled) != 1 {
			t.Errorf("interrupted %v, cancelled %v", h.jobs(vault, Interrupted), h.jobs(vault, Cancelled))
		}
	})
}
