package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"

	"opcancel/worker"
)

// Which runs of a batch's manifest end its publishing. The batches topic
// is written by whoever may submit with --wait or --journal: a wait user
// can publish records of a run that never existed, or of another user's
// run. Nothing tells a forged record from a real one, so `wait` ends a
// batch's publishing only on what a forger cannot do without leaving a
// trace it sees: every run seen has ended (or was resumed by one that
// did), and no run's records contradict each other. What a wait user can
// still falsify: docs/operations.md#what-wait-users-can-falsify.
// `submit --wait` reads none of this: it learns its batch from its own
// run (manifestWriter.watch).

// maxBatchRuns bounds the runs a batch's manifest may name before it is
// taken as contradicted: the rule looks at every run on every record.
const maxBatchRuns = 1000

// manifestRun is what the manifest of one run of submit has given so far.
type manifestRun struct {
	// parts are the digests of the parts' messages, by part number.
	parts   map[int][sha256.Size]byte
	maxPart int
	end     *manifestEnd
}

// complete: the run ended and each of its parts is in.
func (r *manifestRun) complete() bool {
	return r.end != nil && len(r.parts) == r.end.Parts
}

// take adds rec to the run and says how it contradicts what the run had,
// if it does: a second end record or a second part of one number that
// differ (a record delivered again is the same), or a part beyond the
// count of its end record.
func (r *manifestRun) take(rec manifestRecord) string {
	if rec.End != nil {
		if r.end != nil && !r.end.same(rec.End) {
			return "two end records that differ"
		}
		r.end = rec.End
	} else {
		data, _ := json.Marshal(rec.Messages) // strings
		digest := sha256.Sum256(data)
		if prev, ok := r.parts[rec.Part]; ok && prev != digest {
			return fmt.Sprintf("two parts %d that differ", rec.Part)
		}
		r.parts[rec.Part] = digest
		r.maxPart = max(r.maxPart, rec.Part)
	}
	if r.end != nil && r.maxPart > r.end.Parts {
		return fmt.Sprintf("a part %d, but its end record counts %d", r.maxPart, r.end.Parts)
	}
	return ""
}

// same: e and o are one end record.
func (e *manifestEnd) same(o *manifestEnd) bool {
	return e.Parts == o.Parts && e.Published == o.Published && e.PublishedEarlier == o.PublishedEarlier &&
		e.Invalid == o.Invalid && e.Failed == o.Failed && e.Interrupted == o.Interrupted &&
		e.EndedAt.Equal(o.EndedAt) && slices.Equal(e.EarlierRuns, o.EarlierRuns) &&
		e.Names == o.Names && (e.Left == nil) == (o.Left == nil) && (e.Left == nil || *e.Left == *o.Left)
}

// over is the end record of the run whose summary is the batch's when the
// batch's publishing is over by its manifest, else nil: a run ended with
// every name of the batch's list published (manifestEnd.finished; or
// submit --wait's own run, whatever it left) with each of its parts in,
// and every other run seen did
// too (interrupted or not) or is named by such a run as an earlier run of
// its journal (one killed before its end record); never while the records
// of a run contradict each other. Of several such runs, the one that
// ended last.
func (w *watch) over() *manifestEnd {
	if w.conflict != "" {
		return nil
	}
	var last *manifestEnd
	resumed := map[string]bool{}
	for id, r := range w.runs {
		if r.complete() && (r.end.finished() || id == w.own) {
			for _, earlier := range r.end.EarlierRuns {
				resumed[earlier] = true
			}
			if last == nil || r.end.EndedAt.After(last.EndedAt) {
				last = r.end
			}
		}
	}
	if last == nil {
		return nil
	}
	for id, r := range w.runs {
		if !r.complete() && !resumed[id] {
			return nil
		}
	}
	return last
}

// contradicted notes that the batch's manifest contradicts itself, as
// conflict says: its publishing is no longer taken as over, whatever
// comes, and is taken as going on again if it was over while outcomes are
// awaited. The first contradiction is told through warn.
func (w *watch) contradicted(conflict string) {
	if w.conflict != "" {
		return
	}
	w.conflict = conflict
	if w.warn != nil {
		w.warn(fmt.Sprintf("batch %s: %s, which only someone who may publish to the batches topic could have made: "+
			"its publishing is not taken as over (docs/operations.md#what-wait-users-can-falsify)", w.batch, conflict))
	}
	if !w.publishing && !isClosed(w.done) {
		w.publishing, w.early = true, map[string]worker.Event{}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
