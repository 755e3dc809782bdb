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
// timeout passes (errWaitTimeout), ctx ends, or receiving fails. The
// timeout runs from the end of publishing: while the batch's manifest
// grows, each record of it starts the timeout again, and so does the one
// that ends publishing. It shows progress on stderr: a bar on a terminal,
// else a line every progressEvery.
func awaitOutcomes(ctx context.Context, w *watch, failed <-chan error, timeout time.Duration, stderr io.Writer, terminal bool) error {
	last := w.status()
	bar := newProgress(terminal, stderr, last.total, "outcomes")
	defer bar.finish()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		select {
		case <-w.finished():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return errWaitTimeout
		case err := <-failed:
			return fmt.Errorf("following the batch: %w", err)
		case <-w.changed:
			st := w.status()
			if last.publishing && st.records != last.records {
				deadline.Reset(timeout)
			}
			last = st
			bar.setMax(st.total)
			bar.set(st.ended)
			bar.describe(countsLine(st.counts))
		case <-tick.C:
			if !terminal {
				fmt.Fprintln(stderr, progressLine(w.status()))
			}
		}
	}
}

// progressLine is "outcomes: 120 of 200 (cancelled 110, …)", with "so far"
// while publishing goes on, and a word when no manifest has come at all.
func progressLine(st watchStatus) string {
	of := fmt.Sprint(st.total)
	if st.publishing {
		of += " published so far"
	}
	line := fmt.Sprintf("outcomes: %d of %s (%s)", st.ended, of, countsLine(st.counts))
	if st.publishing && st.records == 0 {
		line += "; no manifest of the batch yet (submit publishes one with --wait or --journal)"
	}
	return line
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
