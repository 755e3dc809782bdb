package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/worker"
)

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
	sum := batchSummary{batch: "b1", published: len(outcomes)}
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
	r := newBatchReport(w, batchSummary{batch: "b1", published: 25}, false)
	for verbose, want := range map[bool]int{false: 20, true: 25} {
		var out bytes.Buffer
		r.writeText(&out, verbose)
		if got := strings.Count(out.String(), "operations/unverified-"); got != want {
			t.Errorf("verbose %v: %d names listed, want %d:\n%s", verbose, got, want, out.String())
		}
	}
}
