package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/worker"
)

func testEvent(batch, id, name string, o worker.Outcome) worker.Event {
	return worker.Event{Batch: batch, MessageID: id, Name: name, Service: vaultHost, Outcome: o, Code: "OK"}
}

// TestWatchCountsEachMessageOnce: a redelivered outcome counts once, an
// event of another batch or for a message the batch did not publish is
// ignored, and an event that comes before its publish is answered counts.
func TestWatchCountsEachMessageOnce(t *testing.T) {
	t.Parallel()
	w := newWatch("b1")
	w.expect("1", vaultHost, "operations/a")
	w.record(testEvent("b1", "3", "operations/c", worker.Cancelled)) // before its publish is answered
	w.expect("2", vaultHost, "operations/b")
	w.expect("3", vaultHost, "operations/c")
	w.record(testEvent("b1", "1", "operations/a", worker.Cancelled))
	w.record(testEvent("b1", "1", "operations/a", worker.NotFound))  // a redelivery
	w.record(testEvent("b2", "2", "operations/b", worker.Cancelled)) // another batch
	w.record(testEvent("b1", "9", "operations/z", worker.Denied))    // not published by the batch
	w.published()
	ended, total, counts := w.status()
	if ended != 2 || total != 3 || counts[worker.Cancelled] != 2 || len(counts) != 1 {
		t.Errorf("status = %d of %d, %v; want 2 of 3, 2 cancelled", ended, total, counts)
	}
	select {
	case <-w.done:
		t.Fatal("done with a message without an outcome")
	default:
	}
	w.record(testEvent("b1", "9", "operations/z", worker.Denied)) // after publishing: still not ours
	w.record(testEvent("b1", "2", "operations/b", worker.Unverified))
	select {
	case <-w.done:
	default:
		t.Fatal("not done with every outcome in")
	}
	if _, _, counts := w.status(); counts[worker.Denied] != 0 || counts[worker.Unverified] != 1 {
		t.Errorf("counts = %v", counts)
	}
}

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
		err := await(context.Background(), w, nil, 12*time.Second, &out, false)
		if err != errWaitTimeout || time.Since(start) != 12*time.Second {
			t.Errorf("await = %v after %s, want the timeout after 12s", err, time.Since(start))
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
		if err := await(context.Background(), w, nil, time.Hour, &bytes.Buffer{}, false); err != nil || time.Since(start) != time.Second {
			t.Errorf("await = %v after %s, want nil after 1s", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		w = newWatch("b1")
		w.expect("1", vaultHost, "operations/a")
		w.published()
		if err := await(ctx, w, nil, time.Hour, &bytes.Buffer{}, false); err != context.DeadlineExceeded {
			t.Errorf("await = %v, want the context's end", err)
		}
	})
}

// TestBatchReport: a name's outcome is its first that is not duplicate;
// the names that did not end cancelled or completed are listed; the exit
// status is 0 when every name stopped, 3 when one may still run, 4 on a
// timeout.
func TestBatchReport(t *testing.T) {
	t.Parallel()
	w := newWatch("b1")
	outcomes := []struct {
		name string
		o    worker.Outcome
	}{
		{"operations/a", worker.Cancelled}, {"operations/b", worker.Completed}, {"operations/c", worker.NotFound},
		{"operations/d", worker.Duplicate}, {"operations/d", worker.Cancelled}, // submitted twice
		{"operations/e", ""},
	}
	for i, o := range outcomes {
		w.expect(fmt.Sprint(i), vaultHost, o.name)
		if o.o != "" {
			w.record(testEvent("b1", fmt.Sprint(i), o.name, o.o))
		}
	}
	w.published()
	sum := submitSummary{batch: "b1", published: len(outcomes)}
	r := newBatchReport(w, sum, false)
	want := []nameResult{{Service: vaultHost, Name: "operations/c", Outcome: "not_found", Code: "OK"}, {Service: vaultHost, Name: "operations/e"}}
	if diff := cmp.Diff(want, r.Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"cancelled": 2, "completed": 1, "not_found": 1, "duplicate": 1}, r.Outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if code := exitCode(r.exitError()); code != 3 { // operations/e has no outcome
		t.Errorf("exit %d, want 3", code)
	}
	if code := exitCode(newBatchReport(w, sum, true).exitError()); code != 4 {
		t.Errorf("timed out: exit %d, want 4", code)
	}
	w.record(testEvent("b1", "5", "operations/e", worker.Failed))
	if err := newBatchReport(w, sum, false).exitError(); err != nil {
		t.Errorf("every name stopped: %v, want exit 0", err)
	}
	var js bytes.Buffer
	writeJSON(&js, r)
	var back batchReport
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Names) != 2 || back.NoOutcome != 1 {
		t.Errorf("JSON report %s: %v", js.String(), err)
	}
}

// TestBatchReportListsTheFirst20: the text lists the first 20 names that
// did not end cancelled or completed, and all of them with --verbose.
func TestBatchReportListsTheFirst20(t *testing.T) {
	t.Parallel()
	w := newWatch("b1")
	for i := range 25 {
		name := fmt.Sprintf("operations/unverified-%02d", i)
		w.expect(fmt.Sprint(i), vaultHost, name)
		w.record(testEvent("b1", fmt.Sprint(i), name, worker.Unverified))
	}
	w.published()
	r := newBatchReport(w, submitSummary{batch: "b1", published: 25}, false)
	for verbose, want := range map[bool]int{false: 20, true: 25} {
		var out bytes.Buffer
		r.writeText(&out, verbose)
		if got := strings.Count(out.String(), "operations/unverified-"); got != want {
			t.Errorf("verbose %v: %d names listed, want %d:\n%s", verbose, got, want, out.String())
		}
	}
}
