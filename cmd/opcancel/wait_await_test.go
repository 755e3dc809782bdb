package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/worker"
)

// TestAwaitShowsProgressAndTimesOut: without a terminal a line every 5 s,
// and the timeout ends the wait with the outcomes so far.
func TestAwaitShowsProgressAndTimesOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := newWatch("b1")
		for i := range 3 {
			w.expect(fmt.Sprint(i), vaultHost, fmt.Sprintf("operations/%d", i))
		}
		w.published()
		go func() {
			time.Sleep(3 * time.Second)
			w.record(testEvent("b1", "0", "operations/0", worker.Cancelled))
			time.Sleep(4 * time.Second)
			w.record(testEvent("b1", "1", "operations/1", worker.NotCancellable))
		}()
		var out bytes.Buffer
		start := time.Now()
		err := awaitOutcomes(context.Background(), w, nil, 12*time.Second, &out, false)
		if err != errWaitTimeout || time.Since(start) != 12*time.Second {
			t.Errorf("awaitOutcomes = %v after %s, want the timeout after 12s", err, time.Since(start))
		}
		want := "outcomes: 1 of 3 (cancelled 1)\noutcomes: 2 of 3 (cancelled 1, not_cancellable 1)\n"
		if out.String() != want {
			t.Errorf("progress:\n%s\nwant:\n%s", out.String(), want)
		}
	})
}

// TestAwaitEndsWhenEveryOutcomeIsIn, at once, and when the context ends.
func TestAwaitEndsWhenEveryOutcomeIsIn(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := newWatch("b1")
		w.expect("1", vaultHost, "operations/a")
		w.published()
		go func() {
			time.Sleep(time.Second)
			w.record(testEvent("b1", "1", "operations/a", worker.Cancelled))
		}()
		start := time.Now()
		if err := awaitOutcomes(context.Background(), w, nil, time.Hour, &bytes.Buffer{}, false); err != nil || time.Since(start) != time.Second {
			t.Errorf("awaitOutcomes = %v after %s, want nil after 1s", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w = newWatch("b1")
		w.expect("1", vaultHost, "operations/a")
		w.published()
		if err := awaitOutcomes(ctx, w, nil, time.Hour, &bytes.Buffer{}, false); err != context.DeadlineExceeded {
			t.Errorf("awaitOutcomes = %v, want the context's end", err)
		}
	})
}

// TestAwaitTimesOutAfterPublishingEnds: while the batch's manifest grows,
// each record starts the timeout again, and so does the end of
// publishing; the progress says how many are published so far.
func TestAwaitTimesOutAfterPublishingEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		w := newWatch("b1")
		go func() {
			for i := 1; i <= 3; i++ {
				time.Sleep(10 * time.Second) // each within the 15s timeout of the last
				w.manifest(part("r1", i, fmt.Sprint(i)))
			}
			time.Sleep(10 * time.Second)
			w.manifest(end("r1", 3, 3, 0, false, time.Time{}))
		}()
		var out bytes.Buffer
		start := time.Now()
		err := awaitOutcomes(context.Background(), w, nil, 15*time.Second, &out, false)
		if err != errWaitTimeout || time.Since(start) != 55*time.Second {
			t.Errorf("awaitOutcomes = %v after %s, want the timeout 15s after publishing ended at 40s", err, time.Since(start))
		}
		if !strings.Contains(out.String(), "outcomes: 0 of 1 published so far (none yet)\n") || !strings.HasSuffix(out.String(), "outcomes: 0 of 3 (none yet)\n") {
			t.Errorf("progress:\n%s", out.String())
		}
	})
}
