package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"opcancel/queue"
	"opcancel/worker"
)

// batchEvents brings a batch's result events and manifest into a watch: a
// temporary subscription on the results topic and, for `wait`, one on the
// batches topic, each taking only its own kind of message, created before
// anything is published (so that nothing can be
// missed) or sought back to the batch's start (the topics keep their
// messages for their retention), filtered on the batch where Pub/Sub can
// apply the filter, and deleted by close, whatever ended the run.
type batchEvents struct {
	qc     *queue.Client
	subs   []string
	topics []string
	cancel context.CancelFunc
	// failed receives why receiving failed, if it does before close.
	failed chan error
	// receiving counts the receivers that have not stopped.
	receiving sync.WaitGroup
}

// deleteTimeout bounds the deletion of the temporary subscriptions at exit,
// which runs even when the run was interrupted.
const deleteTimeout = 10 * time.Second

// openBatchEvents creates a temporary subscription in project to each of
// topics, seeks it to since unless it is zero, and receives the batch's
// events and manifest from them into w until close. A topic that does not
// exist is a usage error naming its flag (batchTopicError).
func openBatchEvents(ctx context.Context, qc *queue.Client, project string, topics []batchTopic, since time.Time, w *watch, stderr io.Writer) (*batchEvents, error) {
	b := &batchEvents{qc: qc, failed: make(chan error, len(topics))}
	for _, t := range topics {
		b.topics = append(b.topics, t.name)
	}
	filter, ok := queue.EqualsFilter("batch", w.batch)
	if !ok {
		fmt.Fprintf(stderr, "batch %q cannot be a Pub/Sub filter; every message of %s is read and filtered here\n", w.batch, b)
	}
	rctx, cancel := context.WithCancel(ctx)
	b.cancel = cancel
	for _, t := range topics {
		sub := "projects/" + project + "/subscriptions/" + waitSubscriptionID(w.batch)
		err := qc.CreateTemporarySubscription(ctx, sub, t.name, filter)
		if err != nil {
			err = batchTopicError(t.flag, t.name, useAttach, err)
		} else {
			b.subs = append(b.subs, sub)
			if !since.IsZero() {
				err = qc.SeekToTime(ctx, sub, since)
			}
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("following the batch: %w", err), b.close())
		}
	}
	refused := &refusedRecords{stderr: stderr}
	w.warn = func(s string) { fmt.Fprintln(stderr, escape(s)) }
	for i, sub := range b.subs {
		take := takeResult
		if topics[i].manifests {
			take = takeManifest
		}
		s := qc.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: 1000})
		b.receiving.Go(func() {
			err := s.Receive(rctx, func(_ context.Context, d worker.Delivery) {
				take(d, w, refused)
				d.Ack()
			})
			if err != nil {
				b.failed <- err
			}
		})
	}
	return b, nil
}

// String names the topics read.
func (b *batchEvents) String() string { return strings.Join(b.topics, " and ") }

// takeResult gives w a message of the results topic: a result event,
// which only the worker publishes. A message with the manifest attribute
// is none. The emulator does not apply filters: the watch checks the
// batch.
func takeResult(d worker.Delivery, w *watch, _ *refusedRecords) {
	if _, ok := d.Attributes[manifestAttribute]; ok {
		return
	}
	var ev worker.Event
	if json.Unmarshal(d.Data, &ev) == nil {
		w.record(ev)
	}
}

// takeManifest gives w a message of the batches topic: a manifest record,
// which has the manifest attribute. Anything else there (a result event
// that a wait user published, say) is ignored: the batches topic is
// written by those who may submit, not by the worker.
func takeManifest(d worker.Delivery, w *watch, refused *refusedRecords) {
	if _, ok := d.Attributes[manifestAttribute]; !ok {
		return
	}
	rec, err := decodeManifestRecord(d.Data)
	if err != nil {
		if d.Attributes["batch"] == w.batch {
			refused.report(err)
		}
		return
	}
	w.manifest(rec)
}

// refusedRecords reports the batch's manifest records that are not valid:
// the first few, then how many in all once in a while.
type refusedRecords struct {
	stderr io.Writer
	mu     sync.Mutex
	n      int
}

func (r *refusedRecords) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n <= 3 {
		fmt.Fprintf(r.stderr, "ignored: %s\n", escape(err.Error()))
	} else if r.n&(r.n-1) == 0 {
		fmt.Fprintf(r.stderr, "ignored %d manifest records that are not valid\n", r.n)
	}
}

// waitSubscriptionID is the ID of the temporary subscription: the batch,
// as far as an ID may spell it, and random digits.
func waitSubscriptionID(batch string) string {
	var b [4]byte
	rand.Read(b[:])
	spelled := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', strings.ContainsRune("-_.~+", r):
			return r
		}
		return '-'
	}, batch)
	return "opcancel-wait-" + spelled + "-" + hex.EncodeToString(b[:])
}

// close stops receiving and deletes the subscriptions.
func (b *batchEvents) close() error {
	b.cancel()
	b.receiving.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	var errs []error
	for _, sub := range b.subs {
		if err := b.qc.DeleteSubscription(ctx, sub); err != nil {
			errs = append(errs, fmt.Errorf("%w (it expires by itself after a day unused)", err))
		}
	}
	return errors.Join(errs...)
}
