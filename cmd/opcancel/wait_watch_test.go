package main

import (
	"testing"
	"time"

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
	st := w.status()
	if st.ended != 2 || st.total != 3 || st.counts[worker.Cancelled] != 2 || len(st.counts) != 1 {
		t.Errorf("status = %d of %d, %v; want 2 of 3, 2 cancelled", st.ended, st.total, st.counts)
	}
	select {
	case <-w.finished():
		t.Fatal("done with a message without an outcome")
	default:
	}
	w.record(testEvent("b1", "9", "operations/z", worker.Denied)) // after publishing: still not ours
	w.record(testEvent("b1", "2", "operations/b", worker.Unverified))
	select {
	case <-w.finished():
	default:
		t.Fatal("not done with every outcome in")
	}
	if counts := w.status().counts; counts[worker.Denied] != 0 || counts[worker.Unverified] != 1 {
		t.Errorf("counts = %v", counts)
	}
}

// TestWatchKeepsTheLastWord: of two events for one message, the one that
// finished later is its outcome, whichever comes first: an event published
// for a delivery that was then nacked (Pub/Sub stored it, but its answer
// was lost) can arrive after the redelivery's.
func TestWatchKeepsTheLastWord(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	first := testEvent("b1", "1", "operations/a", worker.Unverified)
	first.FinishedAt = at
	second := testEvent("b1", "1", "operations/a", worker.Cancelled)
	second.FinishedAt = at.Add(30 * time.Second)
	for _, order := range [][]worker.Event{{first, second}, {second, first}} {
		w := newWatch("b1")
		w.expect("1", vaultHost, "operations/a")
		for _, ev := range order {
			w.record(ev)
		}
		w.published()
		if counts := w.status().counts; counts[worker.Cancelled] != 1 || len(counts) != 1 {
			t.Errorf("events %s then %s: counts %v, want the later one, cancelled, alone", order[0].Outcome, order[1].Outcome, counts)
		}
		if got := w.results()[0].event.Outcome; got != worker.Cancelled {
			t.Errorf("events %s then %s: outcome %s, want cancelled", order[0].Outcome, order[1].Outcome, got)
		}
	}
}

// TestWatchCountsACopyOfAMessage: an event for a message ID the batch does
// not have, with the service and name of one of its messages (a dead
// letter replayed under a new ID), is that message's outcome once every
// message is known, whether it comes before or after the manifest's end;
// an older one does not replace a later outcome, and a copy of a name the
// batch did not publish is ignored.
func TestWatchCountsACopyOfAMessage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	replayed := testEvent("b1", "90", "operations/b", worker.Cancelled)
	replayed.FinishedAt = at.Add(time.Minute)
	stale := testEvent("b1", "91", "operations/a", worker.Unverified)
	stale.FinishedAt = at.Add(-time.Minute)
	stranger := testEvent("b1", "92", "operations/z", worker.Denied)
	own := testEvent("b1", "1", "operations/a", worker.Cancelled)
	own.FinishedAt = at
	for _, early := range []bool{true, false} {
		w := newWatch("b1")
		if early {
			for _, ev := range []worker.Event{replayed, stale, stranger} {
				w.record(ev)
			}
		}
		w.expect("1", vaultHost, "operations/a")
		w.expect("2", vaultHost, "operations/b")
		w.record(own)
		w.published()
		if !early {
			for _, ev := range []worker.Event{replayed, stale, stranger} {
				w.record(ev)
			}
		}
		select {
		case <-w.finished():
		default:
			t.Fatalf("early %v: not done with the replayed message's outcome in", early)
		}
		st := w.status()
		if st.ended != 2 || st.total != 2 || st.counts[worker.Cancelled] != 2 || len(st.counts) != 1 {
			t.Errorf("early %v: status %d of %d, %v; want 2 of 2, 2 cancelled", early, st.ended, st.total, st.counts)
		}
	}
}
