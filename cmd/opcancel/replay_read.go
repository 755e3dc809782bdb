package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"opcancel/metrics"
	"opcancel/queue"
	"opcancel/request"
)

// replayRead is what replay read from the subscription: every message it
// pulled is held (its lease extended) until it is acked or given back.
type replayRead struct {
	// total counts the dead letters read; skipped those that --batch or
	// --service did not select, given back untouched at the end.
	total, skipped int
	// selected are the dead letters to publish, at most --limit; counts
	// has their number per service.
	selected []queue.Pulled
	counts   serviceCounts
}

// describe says what the flags selected: "" without --batch or
// --service; the counts per service, if any, follow the total either way.
func (d *replayRead) describe(c *replayCmd) string {
	var by []string
	if c.Batch != "" {
		by = append(by, fmt.Sprintf("--batch %q", c.Batch))
	}
	if c.Service != "" {
		by = append(by, "--service "+c.Service)
	}
	if len(by) == 0 {
		if len(d.counts) == 0 {
			return ""
		}
		return " (" + d.counts.String() + ")"
	}
	selected := fmt.Sprintf(", %d selected by %s", len(d.selected), strings.Join(by, " and "))
	if len(d.counts) > 0 {
		selected += " (" + d.counts.String() + ")"
	}
	return selected
}

// run reads the subscription, then publishes the selected dead letters
// (not in a dry run), while the leases of everything pulled are held; at
// the end it gives back whatever is still held. A failure to hold the
// leases stops it: a message whose lease lapsed could be pulled, and
// replayed, by someone else.
func (r *replay) run(ctx context.Context) error {
	r.leases = r.ps.Leases(r.setup.sub)
	g, gctx := errgroup.WithContext(ctx)
	holding, release := context.WithCancel(gctx)
	g.Go(func() error { return r.leases.Run(holding) })
	g.Go(func() error {
		defer release()
		return r.readAndReplay(gctx)
	})
	err := g.Wait()
	// A nack that fails only delays them: they come back when their
	// leases run out.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	r.ps.Nack(sctx, r.setup.sub, r.leases.ReleaseAll())
	return err
}

// readAndReplay reads the dead letters, asks for confirmation and
// publishes the selected ones.
func (r *replay) readAndReplay(ctx context.Context) error {
	bar := newProgress(r.progress, r.e.stderr, -1, "reading dead letters")
	read, err := r.readAll(ctx, bar)
	bar.finish()
	if err != nil {
		return err
	}
	r.read = read
	if r.pub == nil {
		return nil
	}
	n := len(read.selected)
	if err := r.cmd.ask(ctx, r.e, read.counts,
		fmt.Sprintf("%d dead letters (%s) of %s would be published to %s and acked there", n, read.counts, r.setup.sub, r.setup.topic),
		fmt.Sprintf("Publish %d dead letters (%s) of %s to %s, and ack them there?", n, read.counts, r.setup.sub, r.setup.topic),
		"replayed"); err != nil {
		return err
	}
	r.publishing = true
	r.bar = newProgress(r.progress, r.e.stderr, n, "replaying")
	defer r.bar.finish()
	for chunk := range slices.Chunk(read.selected, replayBatch) {
		if err := r.republish(ctx, chunk); err != nil || r.failed > 0 {
			return err
		}
	}
	return nil
}

// readAll pulls until the subscription has given nothing for --idle, or
// --limit dead letters are selected, holding everything it pulls. A
// message without Pub/Sub's dead-letter attributes refuses the replay
// before anything is published: the subscription is not a dead-letter one
// (the results subscription, say, whose events would cancel again).
func (r *replay) readAll(ctx context.Context, bar progress) (*replayRead, error) {
	d := &replayRead{counts: serviceCounts{}}
	seen := map[string]bool{}
	limit := r.cmd.Limit
	for limit == 0 || len(d.selected) < limit {
		want := replayBatch
		if limit > 0 {
			want = min(want, limit-len(d.selected))
		}
		pctx, cancel := context.WithTimeout(ctx, r.cmd.Idle)
		msgs, err := r.ps.Pull(pctx, r.setup.sub, want)
		cancel()
		if err != nil || len(msgs) == 0 {
			return d, err
		}
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.AckID
		}
		if err := r.leases.Hold(ctx, ids); err != nil {
			return nil, err
		}
		fresh := 0
		for _, m := range msgs {
			if seen[m.ID] {
				continue
			}
			seen[m.ID], fresh = true, fresh+1
			if err := r.refuseNonDeadLetter(m); err != nil {
				return nil, err
			}
			d.total++
			service, batch := r.classify(m)
			if r.selects(service, batch) && (limit == 0 || len(d.selected) < limit) {
				d.selected = append(d.selected, m)
				d.counts[service]++
			} else {
				d.skipped++
			}
		}
		bar.set(d.total)
		if fresh == 0 { // its lease lapsed: it came round again
			return d, nil
		}
	}
	return d, nil
}

// refuseNonDeadLetter refuses a message that Pub/Sub did not dead-letter.
func (r *replay) refuseNonDeadLetter(m queue.Pulled) error {
	for _, a := range []string{queue.DeadLetterSourceSubscription, queue.DeadLetterSourceDeliveryCount} {
		if _, ok := m.Attributes[a]; !ok {
			return usagef("--from-subscription %s: message %s has no %s attribute, which Pub/Sub adds to every message it dead-letters: "+
				"this is not a dead-letter subscription; nothing replayed", r.setup.sub, escape(m.ID), a)
		}
	}
	return nil
}

// classify returns the service a dead letter is for, as the worker
// routes it (metrics.UnknownService when it names none it can tell), and
// its batch.
func (r *replay) classify(m queue.Pulled) (service, batch string) {
	req, err := request.Decode(m.Data, m.Attributes)
	if err != nil {
		return metrics.UnknownService, req.Batch
	}
	if svc, err := r.setup.table.Route(req.Service, req.Name); err == nil {
		return svc.Host, req.Batch
	}
	if req.Service != "" {
		return req.Service, req.Batch
	}
	return metrics.UnknownService, req.Batch
}

// selects reports whether --batch and --service select a dead letter.
func (r *replay) selects(service, batch string) bool {
	return (r.cmd.Batch == "" || batch == r.cmd.Batch) && (r.cmd.Service == "" || service == r.cmd.Service)
}
