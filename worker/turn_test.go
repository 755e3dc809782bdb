package worker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestNewJobsGoBeforeWaitingPolls: on a pool of one slot, held by a slow
// request, the second polls of jobs whose operations keep running line up;
// then a new job comes. When the slot frees, the new job's cancel is sent
// after the one poll whose turn it already was, before the others: their
// operations were still running a poll ago. Without the priority, the
// cancel waited for every poll in line before it.
func TestNewJobsGoBeforeWaitingPolls(t *testing.T) {
	const (
		held    = 4
		latency = 5 * time.Millisecond
		// The second polls come 2.4 to 3.6 intervals after the cancel
		// (0.8 to 1.2, then 1.6 to 2.4), and give way for 2.
		interval = 500 * time.Millisecond
	)
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Concurrency = 1
		cfg.PollInitial = interval
		h := newHarness(t, cfg, lrotest.Options{Latency: latency, Default: func(string) *lrotest.Script { return &lrotest.Script{} }}, "")
		for i := range held {
			h.fake.Set(fmt.Sprintf("operations/held-%d", i), lrotest.Script{DoneAfterPolls: lrotest.Never})
		}
		// Slow, but answered before it is overdue (overdueFloor): the
		// endpoint stays healthy.
		h.fake.Set("operations/slow", lrotest.Script{Latency: 2 * interval})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		var wg sync.WaitGroup
		handle := func(id, name string) {
			wg.Go(func() { h.w.Handle(ctx, h.delivery(id, name, nil)) })
		}
		for i := range held {
			handle(fmt.Sprintf("h%d", i), fmt.Sprintf("operations/held-%d", i))
		}
		// The slow cancel holds the slot from 2.2 to 4.2 intervals: every
		// held job's second poll lines up behind it. The new job comes at
		// 4, before any of them has given way for its 2.
		time.Sleep(interval * 22 / 10)
		handle("slow", "operations/slow")
		time.Sleep(interval * 18 / 10)
		handle("new", "operations/new")
		synctest.Wait()
		time.Sleep(interval) // the slow request ends; what was in line is sent
		synctest.Wait()

		newAt := requestTimes(h, "operations/new", "cancel", start)
		if len(newAt) != 1 {
			t.Fatalf("the new job sent %d cancels, want 1", len(newAt))
		}
		before := 0
		for i := range held {
			gets := requestTimes(h, fmt.Sprintf("operations/held-%d", i), "get", start)
			if len(gets) < 2 {
				t.Fatalf("held job %d was polled %d times, want 2", i, len(gets))
			}
			if gets[1] < newAt[0] {
				before++
			}
		}
		if before > 1 {
			t.Errorf("%d second polls of held jobs were sent before the new job's cancel, want at most 1, the one whose turn it was", before)
		}
		cancel()
		wg.Wait()
	})
}

// TestPollsAreNotStarvedByNewJobs: a job whose operation keeps running is
// polled while a flood of new jobs for its service, at `rate: 20`, keeps
// the endpoint's line full of cancels (its start line, a second of the
// rate) for longer than its first polls' schedule. Each poll gives way to
// the new jobs for its own interval at most (the first, not at all): it
// comes within its wait (1.2 × its interval), its yield and a line's worth
// of requests due before it. Its last poll is at its verify timeout as
// without the flood: a poll yields nothing past it. Without that bound,
// its polls waited for the whole flood.
func TestPollsAreNotStarvedByNewJobs(t *testing.T) {
	const (
		rate    = 20
		flood   = 600 // one cancel each: 30 s at the rate
		latency = 10 * time.Millisecond
		polls   = 3 // after about 1, 3 and 7 s
	)
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.PollMax = time.Minute
		cfg.VerifyTimeout = 20 * time.Second // within the flood
		h := newHarness(t, cfg, lrotest.Options{Latency: latency},
			lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: fmt.Sprintf("rate: %d", rate)}))
		h.fake.Set("operations/held", lrotest.Script{DoneAfterPolls: lrotest.Never})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		var held sync.WaitGroup
		var heldOutcome Outcome
		var heldEnd time.Time
		held.Go(func() {
			heldOutcome = h.w.Handle(ctx, h.delivery("held", "operations/held", nil))
			heldEnd = time.Now()
		})
		synctest.Wait()
		// The new jobs' operations are gone (NOT_FOUND): each sends one
		// cancel and ends, so that what waits in line beside the polls is
		// cancels only.
		var news sync.WaitGroup
		for i := range flood {
			news.Go(func() { h.w.Handle(ctx, h.delivery(fmt.Sprintf("n%d", i), fmt.Sprintf("operations/gone-%d", i), nil)) })
		}
		news.Wait()

		at := requestTimes(h, "operations/held", "get", start)
		if len(at) < polls {
			t.Fatalf("the held job was polled %d times in the %v of the flood, want %d at least: at %v", len(at), time.Since(start), polls, at)
		}
		// How long a poll waits past its due time, at worst, in rate
		// slots of 1/rate each: the start line's cancels, all due before
		// it; the request holding the turn as it came, which may be
		// waiting for its own slot; and the poll's own slot.
		lineWait := time.Duration(startLimitOf(h)+2) * time.Second / rate
		cancelAt := requestTimes(h, "operations/held", "cancel", start)[0]
		prev, interval := cancelAt, cfg.PollInitial
		for i, got := range at[:polls] {
			if bound := latency + interval*12/10 + interval + lineWait; got-prev > bound {
				t.Errorf("poll %d came %v after the request before it, want at most %v (its answer, the wait, the poll's yield, the line due before it)", i+1, got-prev, bound)
			}
			prev, interval = got, interval*2
		}
		if got := h.jobs(vault, NotFound); got != flood {
			t.Errorf("new jobs: not_found = %v, want %d", got, flood)
		}
		held.Wait()
		if heldOutcome != Unverified {
			t.Errorf("held job: outcome %s, want unverified", heldOutcome)
		}
		// The verify deadline is the verify timeout after the cancel's
		// answer (a latency after the cancel was sent); the last poll is
		// due by then, waits at most lineWait and is answered a latency
		// later.
		if got, want := heldEnd.Sub(start)-cancelAt, latency+cfg.VerifyTimeout+lineWait+latency; got > want {
			t.Errorf("held job ended %v after its cancel, want at most %v: the cancel's answer, its verify timeout, the line due before its last poll and that poll's answer", got, want)
		}
	})
}

// startLimitOf is the start line of the built-in vault service's endpoint.
func startLimitOf(h *harness) int {
	return int(startLimit(h.table.Lookup(vault), h.w.cfg.Concurrency))
}

// TestTheTurnGoesToTheRequestDueFirst: the requests waiting for a held
// turn get it in the order they are due, in order of arrival among
// equals: a poll gives way to new jobs' requests that line up before it
// is due, not to those that line up after. One that gives up waiting is
// passed over, and the turn is free once the last gives it back.
func TestTheTurnGoesToTheRequestDueFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var tn turn
		ctx := context.Background()
		if err := tn.take(ctx, 0, nil); err != nil {
			t.Fatal(err)
		}
		order := turnOrder{tn: &tn}
		wait := func(ctx context.Context, name string, yield time.Duration) {
			order.lineUp(ctx, name, yield, nil)
		}
		gone, giveUp := context.WithCancel(ctx)
		wait(ctx, "later poll", 2*time.Second)
		wait(ctx, "first cancel", 0)
		wait(gone, "gave up", 0)
		wait(ctx, "second cancel", 0)
		time.Sleep(time.Second)
		wait(ctx, "cancel after a second", 0)
		wait(ctx, "poll due at once", 0)
		// Past the later poll's due time: a new job's request goes after
		// it, which a strict priority would not do.
		time.Sleep(2 * time.Second)
		wait(ctx, "cancel after the poll was due", 0)
		giveUp()
		synctest.Wait()
		tn.pass()
		got := order.wait()
		want := []string{"first cancel", "second cancel", "cancel after a second", "poll due at once", "later poll", "cancel after the poll was due"}
		if !slices.Equal(got, want) {
			t.Errorf("the turn went to %q, want %q", got, want)
		}
		if tn.held {
			t.Error("the turn is held after the last request gave it back")
		}
	})
}

// TestATurnHandedToARequestThatGaveUpGoesOn: a request whose wait ends
// (its job's context done) just as the turn is handed to it either takes
// it, and gives it on once done, or gives it on at once; either way the
// request behind it gets the turn. Which it sees first is up to the
// scheduler, hence the rounds. Were the turn kept, the endpoint would
// send nothing again.
func TestATurnHandedToARequestThatGaveUpGoesOn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for round := range 64 {
			var tn turn
			if err := tn.take(context.Background(), 0, nil); err != nil {
				t.Fatal(err)
			}
			gone, giveUp := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Go(func() {
				if tn.take(gone, 0, nil) == nil {
					tn.pass() // it holds the turn: done with it
				}
			})
			synctest.Wait()
			// Long enough for any hand-on; short of it, the endpoint is
			// jammed.
			behind, stop := context.WithTimeout(context.Background(), time.Hour)
			var behindErr error
			wg.Go(func() {
				if behindErr = tn.take(behind, 0, nil); behindErr == nil {
					tn.pass()
				}
			})
			synctest.Wait()
			giveUp()
			tn.pass()
			wg.Wait()
			stop()
			if behindErr != nil {
				t.Fatalf("round %d: the request behind one that gave up as it was handed the turn never got it: %v", round, behindErr)
			}
			if tn.held {
				t.Fatalf("round %d: the turn is held after the last request gave it back", round)
			}
		}
	})
}

// TestOnceShutdownBeginsPollsGiveWayToNothing: once hurry is closed, a
// request that was giving way, and one that lines up then, are due as
// they lined up: a poll waiting in line goes before the new jobs'
// requests that lined up after it.
func TestOnceShutdownBeginsPollsGiveWayToNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var tn turn
		ctx := context.Background()
		if err := tn.take(ctx, 0, nil); err != nil {
			t.Fatal(err)
		}
		hurry := make(chan struct{})
		order := turnOrder{tn: &tn}
		wait := func(name string, yield time.Duration) {
			order.lineUp(ctx, name, yield, hurry)
		}
		wait("poll in line", 2*time.Second)
		wait("first cancel", 0)
		close(hurry)
		synctest.Wait()
		wait("poll after shutdown began", 2*time.Second)
		wait("second cancel", 0)
		tn.pass()
		got := order.wait()
		want := []string{"poll in line", "first cancel", "poll after shutdown began", "second cancel"}
		if !slices.Equal(got, want) {
			t.Errorf("the turn went to %q, want %q", got, want)
		}
	})
}

// turnOrder records the order in which requests lined up for tn got the
// turn.
type turnOrder struct {
	tn  *turn
	wg  sync.WaitGroup
	mu  sync.Mutex
	got []string
}

// lineUp lines a request named name up for the turn, due yield after now
// (hurry as for take), and returns once it is in line; a request that gets
// the turn records its name and gives the turn on, one that gives up
// records nothing.
func (o *turnOrder) lineUp(ctx context.Context, name string, yield time.Duration, hurry <-chan struct{}) {
	o.wg.Go(func() {
		if o.tn.take(ctx, yield, hurry) != nil {
			return
		}
		o.mu.Lock()
		o.got = append(o.got, name)
		o.mu.Unlock()
		o.tn.pass()
	})
	synctest.Wait() // lined up in this order
}

// wait waits for every request lined up, and returns the names of those
// that got the turn, in the order they got it.
func (o *turnOrder) wait() []string {
	o.wg.Wait()
	return o.got
}
