package main

import (
	"testing"

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
