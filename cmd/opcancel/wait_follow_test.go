package main

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestWaitSinceAfterTheBatchStarted: wait --since later than the batch's
// start reads its manifest without a run's first part; at --wait-timeout
// it says that the manifest begins before --since and to give an earlier
// one, not that publishing had not ended.
func TestWaitSinceAfterTheBatchStarted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
		w := newWatch("b1")
		// Part 1 was published before --since: only part 2 and the end are read.
		w.manifest(part("r1", 2, "1", "2"))
		w.manifest(ended("r1", 2, 2, 0, 0, 2, 0, false, t0))
		events := &batchEvents{failed: make(chan error), topics: []string{"projects/p/topics/batches"}}
		var out, errb bytes.Buffer
		err := followBatch(t.Context(), &env{stdout: &out, stderr: &errb}, w, events,
			followOptions{timeout: time.Minute, since: "10m"}, nil, nil)
		want := "batch b1: its manifest begins before --since 10m (a run of submit whose first part was published before then): give an earlier --since"
		if exitCode(err) != 4 || !strings.Contains(err.Error(), want) {
			t.Errorf("exit %d (%v), want 4 and %q", exitCode(err), err, want)
		}
	})
}
