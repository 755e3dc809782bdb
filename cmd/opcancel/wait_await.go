package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"opcancel/worker"
)

// progressEvery is how often waiting prints a line when stderr is not a
// terminal.
const progressEvery = 5 * time.Second

// errWaitTimeout: --wait-timeout passed before every outcome was in.
var errWaitTimeout = errors.New("wait timeout")

// awaitOutcomes waits until every message of w has an outcome (nil),
// timeout passes (errWaitTimeout), ctx ends, or receiving fails. It shows
// progress on stderr: a bar on a terminal, else a line every progressEvery.
func awaitOutcomes(ctx context.Context, w *watch, failed <-chan error, timeout time.Duration, stderr io.Writer, terminal bool) error {
	_, total, _ := w.status()
	bar := newProgress(terminal, stderr, total, "outcomes")
	defer bar.finish()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errWaitTimeout
		case err := <-failed:
			return fmt.Errorf("--wait: result events: %w", err)
		case <-w.changed:
			n, _, counts := w.status()
			bar.set(n)
			bar.describe(countsLine(counts))
		case <-tick.C:
			if !terminal {
				n, total, counts := w.status()
				fmt.Fprintf(stderr, "outcomes: %d of %d (%s)\n", n, total, countsLine(counts))
			}
		}
	}
}

// countsLine is "cancelled 120, not_found 2", in the order of the outcomes.
func countsLine(counts map[worker.Outcome]int) string {
	var parts []string
	for _, o := range worker.Outcomes() {
		if n := counts[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}
