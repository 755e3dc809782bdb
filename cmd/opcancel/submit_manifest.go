package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"opcancel/queue"
)

// batchRecorder keeps what a run of submit publishes where a later run and
// `wait` find it: the journal (--journal) and the batch's manifest on the
// batches topic (--wait, --journal). A message reaches the manifest only
// once its journal line is durable (synced), so that a run that resumes
// the journal, which lists again every message the journal has, lists
// every message any manifest of the batch has: the messages whose lines
// were written since the last sync wait in unsynced, and are dropped if
// the sync fails.
type batchRecorder struct {
	journal  *journal        // nil without --journal
	manifest *manifestWriter // never nil
	unsynced []manifestEntry
}

func (r *batchRecorder) sent(o outgoing, id string) error {
	entry := manifestEntry{MessageID: id, Service: o.req.Service, Name: o.req.Name}
	if r.journal == nil {
		r.manifest.add(entry)
		if len(r.manifest.pending) >= maxPartEntries {
			r.manifest.flush(false)
		}
		return nil
	}
	r.journal.published(o.n, id)
	r.unsynced = append(r.unsynced, entry)
	if r.journal.unsynced >= journalSyncEvery {
		return r.idle()
	}
	return nil
}

func (r *batchRecorder) idle() error {
	if r.journal != nil {
		if err := r.journal.sync(); err != nil {
			r.unsynced = nil
			return err
		}
		for _, e := range r.unsynced {
			r.manifest.add(e)
		}
		r.unsynced = r.unsynced[:0]
	}
	r.manifest.flush(false)
	return nil
}

// manifestWriter publishes the manifest of one run (wait_manifest.go): parts
// of up to maxPartEntries messages, at least every manifestEvery while
// messages are published, then the end record.
type manifestWriter struct {
	pub        *queue.Publisher
	topic      string
	batch, run string
	pending    []manifestEntry
	// listed counts the messages given to the manifest (add).
	listed   int
	parts    int
	lastPart time.Time
	results  []queue.Result
	// earlierRuns are the runs of the journal this run resumes, for its
	// end record.
	earlierRuns []string
	// watch, with --wait, is told each record as it is published: submit
	// --wait follows its own run, not what the batches topic says of it.
	watch *watch
}

// manifestEvery is how often a run publishes a part while its messages are
// published, so that `wait` sees a batch grow.
const manifestEvery = time.Second

// manifestTimeout bounds the wait for the server's answers to the
// manifest at the end of a run, interrupted or not.
const manifestTimeout = 30 * time.Second

func newManifestWriter(qc *queue.Client, topic, batch string) *manifestWriter {
	var b [8]byte
	rand.Read(b[:])
	return &manifestWriter{pub: qc.Publisher(queue.PublishConfig{Topic: topic}), topic: topic, batch: batch,
		run: hex.EncodeToString(b[:]), lastPart: time.Now()}
}

// open publishes the run's first part, which lists no message yet, and
// waits for the server's answer, bounded by manifestTimeout: a batches
// topic that is missing or not permitted is found before anything else is
// published. On an error the writer is stopped.
func (m *manifestWriter) open(ctx context.Context) error {
	m.parts++
	m.publish(manifestRecord{Batch: m.batch, Run: m.run, Part: m.parts})
	ctx, cancel := context.WithTimeout(ctx, manifestTimeout)
	defer cancel()
	_, err := m.results[0].Get(ctx)
	if err != nil {
		m.pub.Stop()
	}
	return err
}

func (m *manifestWriter) add(e manifestEntry) {
	m.pending = append(m.pending, e)
	m.listed++
}

// flush publishes the pending messages as a part when there are enough of
// them or enough time has passed, or when force is set.
func (m *manifestWriter) flush(force bool) {
	for len(m.pending) > 0 && (force || len(m.pending) >= maxPartEntries || time.Since(m.lastPart) >= manifestEvery) {
		k := min(len(m.pending), maxPartEntries)
		m.parts++
		m.publish(manifestRecord{Batch: m.batch, Run: m.run, Part: m.parts, Messages: m.pending[:k]})
		m.pending = m.pending[k:]
		m.lastPart = time.Now()
	}
}

func (m *manifestWriter) publish(r manifestRecord) {
	if m.watch != nil {
		m.watch.manifest(r)
	}
	data, _ := json.Marshal(r) // strings and numbers
	// The context only carries trace context: the publisher sends on its own.
	m.results = append(m.results, m.pub.PublishAsync(context.Background(), data, map[string]string{"batch": m.batch, manifestAttribute: m.run}))
}

// end publishes what is pending and the end record with the run's
// summary, the size of the batch's list (names) and how many of its names
// the manifest does not list (failed, never tried, or published without
// a durable journal line), waits for the server's answers, bounded by
// manifestTimeout, and stops the publisher. stopped: publishing stopped
// before the end of the list, whatever the cause (an interrupt, a journal
// that could not be written). The error names the first part that failed.
func (m *manifestWriter) end(sum submitSummary, names int, stopped bool) error {
	m.flush(true)
	left := max(names-m.listed, 0)
	m.publish(manifestRecord{Batch: m.batch, Run: m.run, End: &manifestEnd{
		Parts: m.parts, Published: sum.published, PublishedEarlier: sum.earlier, Invalid: sum.invalid, Failed: sum.failed,
		Interrupted: stopped, EndedAt: time.Now().UTC(), EarlierRuns: m.earlierRuns, Names: names, Left: &left,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), manifestTimeout)
	defer cancel()
	var first error
	failed := 0
	for _, r := range m.results {
		if _, err := r.Get(ctx); err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	m.pub.Stop()
	if failed > 0 {
		return fmt.Errorf("batch manifest: %d of %d records not published: %w", failed, len(m.results), first)
	}
	return nil
}
