package worker

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
	"opcancel/request"
)

// TestRepeatsAreSettledFromMemory: an operation found done is never asked
// again, whichever message names it, and a message acked before is acked
// again at once: each repeat is acked with the outcome remembered, counted
// (opcancel_jobs_total and opcancel_jobs_from_memory_total), and its log
// line and result event say that it was settled from memory; no request
// reaches the API. What was not found done is asked again.
func TestRepeatsAreSettledFromMemory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script lrotest.Script
		// first and repeat are the message IDs of the two deliveries.
		first, repeat string
		want          Outcome
		fromMemory    bool
	}{
		{"an operation found cancelled, another message", lrotest.Script{DoneAfterPolls: 1}, "m1", "m2", Cancelled, true},
		{"an operation that completed, another message", lrotest.Script{Final: lrotest.Completed}, "m1", "m2", Completed, true},
		{"an operation found done after FAILED_PRECONDITION", lrotest.Script{AlreadyDone: true, Final: lrotest.Failed}, "m1", "m2", Failed, true},
		{"a message acked as not_found, again", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.NotFound, "gone")}}, "m1", "m1", NotFound, true},
		{"not found, another message: asked again", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.NotFound, "gone")}}, "m1", "m2", NotFound, false},
		{"unverified, another message: asked again", lrotest.Script{DoneAfterPolls: lrotest.Never}, "m1", "m2", Unverified, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.VerifyTimeout = time.Minute
				h := newHarness(t, cfg, lrotest.Options{}, "")
				h.fake.Set("operations/x", tt.script)
				ctx := context.Background()
				if got := h.w.Handle(ctx, h.delivery(tt.first, "operations/x", map[string]string{"batch": "b1"})); got != tt.want {
					t.Fatalf("first delivery: %s, want %s", got, tt.want)
				}
				before := h.fake.Op("operations/x")
				got := h.w.Handle(ctx, h.delivery(tt.repeat, "operations/x", map[string]string{"batch": "b2"}))
				after := h.fake.Op("operations/x")
				if got != tt.want {
					t.Errorf("repeat: %s, want %s", got, tt.want)
				}
				asked := after.Cancels+after.Gets > before.Cancels+before.Gets
				if asked == tt.fromMemory {
					t.Errorf("the repeat sent requests: %v, want %v (cancels %d→%d, gets %d→%d)",
						asked, !tt.fromMemory, before.Cancels, after.Cancels, before.Gets, after.Gets)
				}
				if s := h.settled.get(tt.repeat); s[len(s)-1] != "ack" {
					t.Errorf("the repeat was settled %v, want acked", s)
				}
				if n := testutil.ToFloat64(h.m.JobsFromMemory.WithLabelValues(vault)); n != map[bool]float64{true: 1}[tt.fromMemory] {
					t.Errorf("opcancel_jobs_from_memory_total = %v, want %v", n, tt.fromMemory)
				}
				if n := h.jobs(vault, tt.want); n != 2 {
					t.Errorf("%s = %v, want 2: the repeat counts as an outcome", tt.want, n)
				}
				lines := h.outcomeLogs(tt.repeat)
				line := lines[len(lines)-1].ContextMap()
				detail, _ := line["detail"].(string)
				if (line["fromMemory"] == true) != tt.fromMemory || strings.HasPrefix(detail, "settled from memory") != tt.fromMemory || line["batch"] != "b2" {
					t.Errorf("the repeat's log line = %v, want fromMemory %v said in its detail, and its own batch", line, tt.fromMemory)
				}
				ev := h.sink.events[len(h.sink.events)-1]
				if ev.FromMemory != tt.fromMemory || strings.HasPrefix(ev.Message, "settled from memory") != tt.fromMemory || ev.Outcome != tt.want || ev.MessageID != tt.repeat {
					t.Errorf("the repeat's event = %+v, want outcome %s, fromMemory %v said in its message", ev, tt.want, tt.fromMemory)
				}
			})
		})
	}
}

// TestMemoryForgetsAfterItsAge: an outcome older than MemoryAge is not
// used: the operation is asked again.
func TestMemoryForgetsAfterItsAge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.MemoryAge = 10 * time.Minute
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/x", lrotest.Script{})
		ctx := context.Background()
		h.w.Handle(ctx, h.delivery("m1", "operations/x", nil))
		time.Sleep(cfg.MemoryAge - time.Minute)
		h.w.Handle(ctx, h.delivery("m2", "operations/x", nil))
		if n := h.fake.Op("operations/x").Cancels; n != 1 {
			t.Fatalf("%d cancels within the memory's age, want 1", n)
		}
		time.Sleep(2 * time.Minute)
		h.w.Handle(ctx, h.delivery("m3", "operations/x", nil))
		if n := h.fake.Op("operations/x").Cancels; n != 2 {
			t.Errorf("%d cancels after the memory's age, want 2: asked again", n)
		}
		if n := testutil.ToFloat64(h.m.JobsFromMemory.WithLabelValues(vault)); n != 1 {
			t.Errorf("opcancel_jobs_from_memory_total = %v, want 1", n)
		}
	})
}

// TestMemoryHoldsAtMostItsEntries: the oldest entry leaves first, and the
// count never passes the bound.
func TestMemoryHoldsAtMostItsEntries(t *testing.T) {
	t.Parallel()
	m := newMemory(3, time.Hour)
	now := time.Now()
	for i := range 5 {
		m.put(messageKey(fmt.Sprint(i)), remembered{outcome: Cancelled, at: now})
	}
	m.put(messageKey("4"), remembered{outcome: Failed, at: now}) // replaced in place
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := m.get(messageKey(fmt.Sprint(i)), now); ok != want {
			t.Errorf("entry %d remembered: %v, want %v", i, ok, want)
		}
	}
	if r, _ := m.get(messageKey("4"), now); r.outcome != Failed {
		t.Errorf("entry 4 = %s, want the latest, failed", r.outcome)
	}
	if len(m.entries) != 3 || len(m.order) != 3 {
		t.Errorf("%d entries, %d keys in order; want 3 and 3", len(m.entries), len(m.order))
	}
}

// TestMemoryEntriesDoNotGrowWithNames: an entry takes as much memory for
// the longest valid name (1 KiB, under a long host) as for a short one,
// so that the memory's bound in entries is a bound in bytes
// (docs/design.md#the-memory-of-outcomes). Not parallel: it reads the
// heap, which the parallel tests leave alone until it returns.
func TestMemoryEntriesDoNotGrowWithNames(t *testing.T) {
	const n = 20000
	long := strings.Repeat("h", 240) + ".googleapis.com"
	perEntry := func(host string, nameBytes int) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := newMemory(n, time.Hour)
		now := time.Now()
		for i := range n {
			id := fmt.Sprintf("/%d", i)
			name := "operations/" + strings.Repeat("a", nameBytes-len("operations/")-len(id)) + id
			m.put(operationKey(host, name), remembered{outcome: Cancelled, code: "OK", at: now})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(m)
		return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	}
	short, longest := perEntry(vault, 20), perEntry(long, request.MaxNameBytes)
	if longest > short+64 {
		t.Errorf("an entry takes %.0f bytes with 1 KiB names under a %d-byte host, %.0f with 20-byte names: want the same, whatever the name", longest, len(long), short)
	}
}

// TestStartUpSeriesFromMemory: the series of opcancel_jobs_from_memory_total
// exist at zero from start-up, for every enabled service and unknown.
func TestStartUpSeriesFromMemory(t *testing.T) {
	t.Parallel()
	h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
	if got, want := testutil.CollectAndCount(h.m.JobsFromMemory), len(h.table.Hosts())+1; got != want {
		t.Errorf("%d series of opcancel_jobs_from_memory_total at start-up, want %d (every enabled service and %s)", got, want, metrics.UnknownService)
	}
}

// BenchmarkMemoryPerEntry measures the heap one remembered outcome takes
// in a full memory of the default 200,000 entries, half of them
// operations with the longest valid names (1 KiB) under a 255-byte host,
// half message IDs: go test -run '^$' -bench MemoryPerEntry ./worker
// (docs/performance.md#micro-benchmarks). An entry's size does not depend
// on them (TestMemoryEntriesDoNotGrowWithNames).
func BenchmarkMemoryPerEntry(b *testing.B) {
	n := DefaultConfig().MemoryEntries
	host := strings.Repeat("h", 240) + ".googleapis.com"
	var per float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m := newMemory(n, time.Hour)
		now := time.Now()
		for i := range n / 2 {
			id := fmt.Sprintf("/%d", i)
			name := "operations/" + strings.Repeat("a", request.MaxNameBytes-len("operations/")-len(id)) + id
			m.put(operationKey(host, name), remembered{outcome: Cancelled, code: "OK", at: now})
			m.put(messageKey(fmt.Sprint(17000000000000000+i)), remembered{outcome: Cancelled, code: "OK", at: now})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
		runtime.KeepAlive(m)
	}
	b.ReportMetric(per, "B/entry")
}
