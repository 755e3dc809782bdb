package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"opcancel/queue"
	"opcancel/worker"
)

// batchEvents brings a batch's result events into a watch: a temporary
// subscription on the results topic, created before anything is published
// (so that no event can be missed), filtered on the batch where Pub/Sub can
// apply the filter, and deleted by close, whatever ended the run.
type batchEvents struct {
	qc         *queue.Client
	sub, topic string
	cancel     context.CancelFunc
	// failed receives why receiving failed, if it does before close.
	failed chan error
	// stopped is closed when receiving has stopped.
	stopped chan struct{}
}

// deleteTimeout bounds the deletion of the temporary subscription at exit,
// which runs even when the run was interrupted.
const deleteTimeout = 10 * time.Second

// openBatchEvents creates the temporary subscription to topic (a full
// name) in project and receives the batch's events into w until close.
func openBatchEvents(ctx context.Context, qc *queue.Client, project, topic string, w *watch, stderr io.Writer) (*batchEvents, error) {
	sub := "projects/" + project + "/subscriptions/" + waitSubscriptionID(w.batch)
	filter, ok := queue.EqualsFilter("batch", w.batch)
	if !ok {
		fmt.Fprintf(stderr, "batch %q cannot be a Pub/Sub filter; every result event is read and filtered here\n", w.batch)
	}
	if err := qc.CreateTemporarySubscription(ctx, sub, topic, filter); err != nil {
		return nil, fmt.Errorf("--wait: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	b := &batchEvents{qc: qc, sub: sub, topic: topic, cancel: cancel, failed: make(chan error, 1), stopped: make(chan struct{})}
	s := qc.Subscriber(queue.ReceiveConfig{Subscription: sub, MaxOutstanding: 1000})
	go func() {
		defer close(b.stopped)
		err := s.Receive(rctx, func(_ context.Context, d worker.Delivery) {
			// The emulator does not apply filters: record checks the batch.
			var ev worker.Event
			if json.Unmarshal(d.Data, &ev) == nil {
				w.record(ev)
			}
			d.Ack()
		})
		if err != nil {
			b.failed <- err
		}
	}()
	return b, nil
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

// close stops receiving and deletes the subscription.
func (b *batchEvents) close() error {
	b.cancel()
	<-b.stopped
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	if derr := b.qc.DeleteSubscription(ctx, b.sub); derr != nil {
		return fmt.Errorf("%w (it expires by itself after a day unused)", derr)
	}
	return nil
}
