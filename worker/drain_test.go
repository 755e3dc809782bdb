package worker

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestDuringTheDrainPollsDoNotGiveWayToNewJobs: a job whose operation
// keeps running is polled while a flood of new jobs for its service, at
// `rate: 20`, keeps the endpoint's line full of cancels. Shutdown begins
// while its third poll gives way to them in line; the flood's jobs held
// keep starting during the drain. The poll then goes as if it had lined
// up due at once: after the requests due before it, not its yield later.
// Giving way, it came up to 4 s later, a sixth of the drain, after which
// held jobs end interrupted.
func TestDuringTheDrainPollsDoNotGiveWayToNewJobs(t *testing.T) {
	const (
		rate    = 20
		flood   = 600 // one cancel each: 30 s at the rate, past the drain
		latency = 10 * time.Millisecond
	)
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		h := newHarness(t, cfg, lrotest.Options{Latency: latency},
			lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: fmt.Sprintf("rate: %d", rate)}))
		h.fake.Set("operations/held", lrotest.Script{DoneAfterPolls: lrotest.Never})
		news := make([]Delivery, flood)
		for i := range news {
			news[i] = h.delivery(fmt.Sprintf("n%d", i), fmt.Sprintf("operations/gone-%d", i), nil)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		errc := make(chan error)
		go func() {
			errc <- h.w.Run(ctx, &memSource{deliveries: []Delivery{h.delivery("held", "operations/held", nil)}},
				&laterSource{deliveries: news, after: 100 * time.Millisecond})
		}()
		gets := func() []time.Duration { return requestTimes(h, "operations/held", "get", start) }
		for len(gets()) < 2 {
			time.Sleep(50 * time.Millisecond)
		}
		// The third poll, 4 s apart, lines up 3.2 to 4.8 s after the
		// second is answered and gives way until 4 s later: at 5 s, it
		// is in line, giving way.
		second := gets()[1]
		time.Sleep(time.Until(start.Add(second + 5*time.Second)))
		stop := time.Since(start)
		cancel()
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v", err)
		}

		at := gets()
		if len(at) < 3 || at[2] < stop {
			t.Fatalf("the held job was polled at %v, shutdown began at %v: want its third poll after it", at, stop)
		}
		// Due before the poll, at worst: the start line's cancels, the
		// request holding the turn as shutdown began and the poll's own
		// rate slot.
		lineWait := time.Duration(startLimitOf(h)+2) * time.Second / rate
		if got, want := at[2]-stop, lineWait; got > want {
			t.Errorf("the poll in line as shutdown began was sent %v after, want at most %v: the line due before it, not its yield", got, want)
		}
		if got := h.jobs(vault, Interrupted); got == 0 {
			t.Errorf("interrupted = %v, want the flood's jobs not started in the drain", got)
		}
	})
}
