package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"opcancel/worker"
)

func part(run string, n int, ids ...string) manifestRecord {
	r := manifestRecord{Batch: "b1", Run: run, Part: n}
	for _, id := range ids {
		r.Messages = append(r.Messages, manifestEntry{MessageID: id, Service: vaultHost, Name: "operations/" + id})
	}
	return r
}

func end(run string, parts, published, earlier int, interrupted bool, at time.Time) manifestRecord {
	return manifestRecord{Batch: "b1", Run: run, End: &manifestEnd{Parts: parts, Published: published, PublishedEarlier: earlier,
		Interrupted: interrupted, EndedAt: at}}
}

func isDone(w *watch) bool {
	select {
	case <-w.finished():
		return true
	default:
		return false
	}
}

// TestWatchLearnsTheBatchFromItsManifest: the messages of a batch are
// those of its manifest's parts, in any order, whichever comes first,
// parts, end or events; publishing ends with the first run that ended
// uninterrupted with each of its parts in (an interrupted run's messages
// count, its end does not end it); the summary is that run's.
func TestWatchLearnsTheBatchFromItsManifest(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	w := newWatch("b1")
	// The first run: two messages, then an interrupt.
	w.record(testEvent("b1", "1", "operations/1", worker.Cancelled)) // before its part
	w.manifest(part("r1", 1, "1", "2"))
	w.manifest(end("r1", 1, 2, 0, true, t0))
	if st := w.status(); !st.publishing || st.total != 2 || st.ended != 1 {
		t.Errorf("after an interrupted run: %+v, want publishing, 1 of 2", st)
	}
	// The second run lists the first's messages again, then its own; its
	// end comes before its second part.
	w.manifest(part("r2", 1, "1", "2"))
	w.manifest(end("r2", 2, 1, 2, false, t0.Add(time.Minute)))
	w.manifest(manifestRecord{Batch: "b2", Run: "r2", Part: 2}) // another batch's
	if st := w.status(); !st.publishing {
		t.Errorf("publishing over with a part of the run missing")
	}
	w.record(testEvent("b1", "3", "operations/3", worker.NotFound)) // before its part
	w.manifest(part("r2", 2, "3"))
	if st := w.status(); st.publishing || st.total != 3 || st.ended != 2 || st.records != 5 {
		t.Errorf("after the whole second run: %+v, want publishing over, 2 of 3, 5 records", st)
	}
	if isDone(w) {
		t.Fatal("done with a message without an outcome")
	}
	w.record(testEvent("b1", "2", "operations/2", worker.Cancelled))
	if !isDone(w) {
		t.Fatal("not done with every outcome in")
	}
	if sum, ok := w.summary(); !ok || sum.String() != "published: 1 (2 earlier), invalid: 0, failed: 0, batch: b1" {
		t.Errorf("summary = %s, %v; want the second run's", sum, ok)
	}
}

// TestWatchWithoutManifest: without any manifest record the summary is
// only what the watch counted.
func TestWatchWithoutManifest(t *testing.T) {
	t.Parallel()
	w := newWatch("b1")
	if sum, ok := w.summary(); ok || sum.published != 0 {
		t.Errorf("summary = %+v, %v; want none", sum, ok)
	}
}

// TestDecodeManifestRecord refuses what could not have come from submit,
// so that nothing unchecked reaches the report.
func TestDecodeManifestRecord(t *testing.T) {
	t.Parallel()
	ok := part("r1", 1, "1")
	tests := map[string]struct {
		edit func(*manifestRecord)
		want string
	}{
		"a part":               {func(*manifestRecord) {}, ""},
		"an end":               {func(r *manifestRecord) { *r = end("r1", 1, 1, 0, false, time.Time{}) }, ""},
		"no run":               {func(r *manifestRecord) { r.Run = "" }, "run \"\""},
		"a run with a space":   {func(r *manifestRecord) { r.Run = "r 1" }, "run \"r 1\""},
		"part 0":               {func(r *manifestRecord) { r.Part = 0 }, "neither a part (from 1) nor an end"},
		"an end with messages": {func(r *manifestRecord) { r.End = &manifestEnd{} }, "an end record with messages"},
		"a negative count":     {func(r *manifestRecord) { *r = end("r1", -1, 0, 0, false, time.Time{}) }, "a negative count"},
		"an end of no part":    {func(r *manifestRecord) { *r = end("r1", 0, 0, 0, false, time.Time{}) }, "an end record that counts no part"},
		"too many earlier runs": {func(r *manifestRecord) {
			*r = end("r1", 1, 0, 0, false, time.Time{})
			r.End.EarlierRuns = make([]string, maxEarlierRuns+1)
			for i := range r.End.EarlierRuns {
				r.End.EarlierRuns[i] = fmt.Sprint("r", i)
			}
		}, "101 earlier runs, the limit is 100"},
		"an earlier run with a space": {func(r *manifestRecord) {
			*r = end("r1", 1, 0, 0, false, time.Time{})
			r.End.EarlierRuns = []string{"r 0"}
		}, `earlier run "r 0"`},
		"a bad name":    {func(r *manifestRecord) { r.Messages[0].Name = "operations/\x1b[2J" }, "forbidden character"},
		"a bad service": {func(r *manifestRecord) { r.Messages[0].Service = "vault/x" }, `service "vault/x" is not a host name`},
		"no message ID": {func(r *manifestRecord) { r.Messages[0].MessageID = "" }, `message ID ""`},
		"too many messages": {func(r *manifestRecord) {
			for i := range maxPartEntries {
				r.Messages = append(r.Messages, manifestEntry{MessageID: fmt.Sprint(i), Service: vaultHost, Name: "operations/x"})
			}
		}, "1001 messages in a part, the limit is 1000"},
	}
	for name, tt := range tests {
		r := ok
		r.Messages = append([]manifestEntry(nil), ok.Messages...)
		tt.edit(&r)
		data, _ := json.Marshal(r)
		_, err := decodeManifestRecord(data)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: decodeManifestRecord = %v, want %q", name, err, tt.want)
		}
	}
	if _, err := decodeManifestRecord([]byte("{")); err == nil {
		t.Error("a record that is not JSON was taken")
	}
}

// TestWaitSince: --since as a time or how long ago; else a generated
// batch ID's start, less the clocks' skew; else the topic's whole
// retention.
func TestWaitSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		flag, batch string
		want        time.Time
		err         string
	}{
		{"2026-11-22T07:00:00Z", "b1", time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC), ""},
		{"90m", "2026-11-22T075320Z-71f5fd", now.Add(-90 * time.Minute), ""},
		{"", "2026-11-22T075320Z-71f5fd", time.Date(2026, 11, 22, 7, 48, 20, 0, time.UTC), ""},
		{"", "incident 4711", now.Add(-31 * 24 * time.Hour), ""},
		{"", "2026-11-22T075320Z-71f5fdx", now.Add(-31 * 24 * time.Hour), ""},
		{"yesterday", "b1", time.Time{}, `--since "yesterday": want an RFC 3339 time`},
		{"-5m", "b1", time.Time{}, `--since "-5m"`},
		{"2026-11-22T09:30:00Z", "b1", time.Time{}, `--since 2026-11-22T09:30:00Z: in the future (it is 2026-11-22T09:00:00Z)`},
	}
	for _, tt := range tests {
		got, err := waitSince(tt.flag, tt.batch, now)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || exitCode(err) != 2 {
				t.Errorf("waitSince(%q, %q) = %v, %v; want the usage error %q", tt.flag, tt.batch, got, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("waitSince(%q, %q) = %v, %v; want %v", tt.flag, tt.batch, got, err, tt.want)
		}
	}
}

// ended is the end record of a run that has names names in the batch's
// list and left of them unlisted by any manifest.
func ended(run string, parts, published, earlier, failed, names, left int, interrupted bool, at time.Time) manifestRecord {
	r := end(run, parts, published, earlier, interrupted, at)
	r.End.Failed, r.End.Names, r.End.Left = failed, names, &left
	return r
}

// TestWaitFollowsABatchToTheRunThatPublishedTheRest: a run that ended
// with failed publishes does not end the batch: wait goes on until the
// run that resumed its journal and published the rest, whichever order
// the records come in, and prints that run's summary, not the first's
// (published 2, failed 2, exit 1).
func TestWaitFollowsABatchToTheRunThatPublishedTheRest(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	first := []manifestRecord{part("r1", 1), part("r1", 2, "1", "2"), ended("r1", 2, 2, 0, 2, 4, 2, false, t0)}
	second := []manifestRecord{part("r2", 1), part("r2", 2, "1", "2", "3", "4"), ended("r2", 2, 2, 2, 0, 4, 0, false, t0.Add(time.Minute))}
	for name, order := range map[string][]manifestRecord{
		"in order":           append(append([]manifestRecord{}, first...), second...),
		"the resume's first": append(append([]manifestRecord{}, second...), first...),
	} {
		w := newWatch("b1")
		for _, id := range []string{"1", "2"} {
			w.record(testEvent("b1", id, "operations/"+id, worker.Cancelled))
		}
		for i, rec := range order {
			w.manifest(rec)
			if i < len(order)-1 && name == "in order" && isDone(w) {
				t.Errorf("%s: done after %d records, with 2 of the batch's 4 names without an outcome", name, i+1)
			}
		}
		if st := w.status(); st.publishing || st.total != 4 {
			t.Errorf("%s: %+v, want publishing over with 4 messages", name, st)
		}
		if sum, _ := w.summary(); sum.String() != "published: 2 (2 earlier), invalid: 0, failed: 0, batch: b1" {
			t.Errorf("%s: summary %s, want the resumed run's", name, sum)
		}
		if isDone(w) {
			t.Errorf("%s: done with the resumed run's names without an outcome", name)
		}
		for _, id := range []string{"3", "4"} {
			w.record(testEvent("b1", id, "operations/"+id, worker.Cancelled))
		}
		if !isDone(w) {
			t.Errorf("%s: not done with every outcome in", name)
		}
	}
}

// TestWaitShowsTheLatestRunOfABatchThatIsNotWhole: while no run has
// published every name, the summary is the run that ended last; its
// failed publishes (exit 1) or its stop (notTried) are what wait reports
// at --wait-timeout.
func TestWaitShowsTheLatestRunOfABatchThatIsNotWhole(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	w := newWatch("b1")
	w.manifest(ended("r2", 1, 1, 1, 1, 3, 1, false, t0.Add(time.Minute)))
	w.manifest(part("r2", 1, "1", "2"))
	w.manifest(ended("r1", 1, 1, 0, 0, 3, 2, true, t0))
	w.manifest(part("r1", 1, "1"))
	if st := w.status(); !st.publishing {
		t.Errorf("publishing over with a name of the batch never published")
	}
	sum, _ := w.summary()
	if got, want := sum.String(), "published: 1 (1 earlier), invalid: 0, failed: 1, batch: b1"; got != want {
		t.Errorf("summary %s, want the latest run's, %s", got, want)
	}
	if exitCode(sum.exitError(nil)) != 1 {
		t.Errorf("the latest run's failed publish: exit %d, want 1", exitCode(sum.exitError(nil)))
	}
}

// TestWaitReopensABatchSubmittedAgain: messages learnt after the batch's
// publishing ended (the batch submitted again) are waited for.
func TestWaitReopensABatchSubmittedAgain(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	w := newWatch("b1")
	w.manifest(part("r1", 1, "1"))
	w.manifest(ended("r1", 1, 1, 0, 0, 1, 0, false, t0))
	w.record(testEvent("b1", "1", "operations/1", worker.Cancelled))
	if !isDone(w) {
		t.Fatal("not done with the only run finished and its outcome in")
	}
	w.manifest(part("r2", 1, "2"))
	w.record(testEvent("b1", "2", "operations/2", worker.NotFound)) // before the run ends
	if isDone(w) || !w.status().publishing {
		t.Fatal("done with a message learnt after publishing ended")
	}
	w.manifest(ended("r2", 1, 1, 0, 0, 1, 0, false, t0.Add(time.Minute)))
	if !isDone(w) {
		t.Errorf("not done once the second run ended with its outcome in: %+v", w.status())
	}
}
