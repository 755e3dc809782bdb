package worker

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// copyOf is a second delivery of d's message (the same message ID), whose
// settlement is recorded under key.
func (h *harness) copyOf(d Delivery, key string) Delivery {
	c := h.delivery(key, string(d.Data), d.Attributes)
	c.ID = d.ID
	return c
}

// TestRedeliveryFollowsTheFirstCopy: when Pub/Sub delivers a message again
// (a lapsed lease) while its first copy is still being worked on here, the
// copy sends nothing and waits for the first copy's fate: nacked if it was
// nacked, acked if it was acked. Acking the copy as a duplicate would lose
// the message when the first copy's nack is void, the copy's lease being the
// live one.
func TestRedeliveryFollowsTheFirstCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  lrotest.Script
		want    Outcome
		settle  string
		cancels int
	}{
		{"first copy nacked (retry_exhausted)", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(50 * time.Second)}}, RetryExhausted, "nack", 3},
		{"first copy acked (cancelled)", lrotest.Script{DoneAfterPolls: 3}, Cancelled, "ack", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
				h.fake.Set("operations/r", tt.script)
				first := h.delivery("m", "operations/r", map[string]string{"batch": "b1"})
				done := make(chan Outcome)
				go func() { done <- h.w.Handle(context.Background(), first) }()
				time.Sleep(10 * time.Second) // the first copy is in flight
				got := h.w.Handle(context.Background(), h.copyOf(first, "m-copy"))
				if firstGot := <-done; firstGot != tt.want || got != tt.want {
					t.Errorf("outcomes: first %s, copy %s; want %s for both", firstGot, got, tt.want)
				}
				for _, key := range []string{"m", "m-copy"} {
					if diff := cmp.Diff([]string{tt.settle}, h.settled.get(key)); diff != "" {
						t.Errorf("%s settlement (-want +got):\n%s", key, diff)
					}
				}
				if n := h.fake.Op("operations/r").Cancels; n != tt.cancels {
					t.Errorf("cancels sent = %d, want %d: the copy sends nothing", n, tt.cancels)
				}
				if n := h.jobs(vault, Duplicate); n != 0 {
					t.Errorf("duplicate = %v, want 0", n)
				}
				if n := h.jobs(vault, tt.want); n != 2 {
					t.Errorf("%s = %v, want 2 (both deliveries)", tt.want, n)
				}
				e := h.outcomeLogs("m")
				if len(e) != 2 {
					t.Fatalf("%d outcome lines for message m, want 2", len(e))
				}
				if f := e[1].ContextMap(); f["batch"] != "b1" || f["attempts"] != int64(0) || f["code"] != e[0].ContextMap()["code"] {
					t.Errorf("the copy's log line = %v, want the first's code and batch, and no attempt of its own", f)
				}
			})
		})
	}
}

// TestAckedOnlyAfterItsOutcomeAndEvent: when a delivery is acked, its
// outcome is already counted and logged and its result event published:
// a worker that dies before the ack loses nothing, the message comes back.
func TestAckedOnlyAfterItsOutcomeAndEvent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		h.fake.Set("operations/x", lrotest.Script{})
		d := h.delivery("m", "operations/x", nil)
		var atAck []string
		d.Ack = func() error {
			if _, _, ok := h.sink.byID("m"); !ok {
				atAck = append(atAck, "no event")
			}
			if h.jobs(vault, Cancelled) != 1 {
				atAck = append(atAck, "no outcome counted")
			}
			if _, ok := h.outcomeLog("m"); !ok {
				atAck = append(atAck, "no outcome logged")
			}
			h.settled.add("m", "ack")
			return nil
		}
		if got := h.w.Handle(context.Background(), d); got != Cancelled {
			t.Fatalf("outcome %s, want cancelled", got)
		}
		if diff := cmp.Diff([]string{"ack"}, h.settled.get("m")); diff != "" {
			t.Errorf("settlement (-want +got):\n%s", diff)
		}
		if len(atAck) > 0 {
			t.Errorf("at the ack: %v; want the outcome counted and logged and its event published first", atAck)
		}
	})
}

// TestALostAckMeansASecondCancel: delivery is at least once, not exactly
// once. A worker that dies between an outcome and its ack leaves the
// message to be delivered again, to a worker that has not seen it (a new
// process remembers nothing): the operation gets a second cancel, which is
// harmless, and a second result event, with the same name and message ID.
func TestALostAckMeansASecondCancel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		first := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
		first.fake.Set("operations/x", lrotest.Script{})
		d := first.delivery("m", "operations/x", nil)
		d.Ack = func() error { return nil } // the process dies: the ack never leaves
		if got := first.w.Handle(context.Background(), d); got != Cancelled {
			t.Fatalf("first delivery: %s, want cancelled", got)
		}
		second := wireHarness(t, DefaultConfig(), first.table, first.fake, lro.Config{Auth: lro.AuthNone, Transport: first.fake.Transport()})
		if got := second.w.Handle(context.Background(), second.delivery("m", "operations/x", nil)); got != Cancelled {
			t.Errorf("the redelivery: %s, want cancelled", got)
		}
		if n := first.fake.Op("operations/x").Cancels; n != 2 {
			t.Errorf("%d cancels, want 2: the redelivery cancels again", n)
		}
		e1, _, ok1 := first.sink.byID("m")
		e2, _, ok2 := second.sink.byID("m")
		if !ok1 || !ok2 || e1.Name != e2.Name || e1.Outcome != Cancelled || e2.Outcome != Cancelled {
			t.Errorf("events %+v (%v) and %+v (%v), want one per delivery, both cancelled, of the same name", e1, ok1, e2, ok2)
		}
	})
}
