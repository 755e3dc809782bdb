package queue

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Leases holds the leases of messages pulled from one subscription (Pull):
// Hold extends their leases at once to DefaultLeaseExtension, the lease
// the worker's messages get too (docs/design.md#leases), and Run renews
// every held lease every third of it until Release, so that no one else is
// given a message while it is held, however long its handling takes; a
// holder that dies lets its messages go within one lease.
type Leases struct {
	sub      string
	deadline time.Duration
	// extend sets the ack deadline of the messages with these ack IDs.
	extend func(ctx context.Context, ackIDs []string, deadline time.Duration) error

	// mu is held through every extension, so that once Release returns no
	// extension names the released messages (an extension after an ack is
	// refused by an exactly-once subscription).
	mu   sync.Mutex
	held map[string]struct{}
}

// Leases returns the lease holder of the messages pulled from sub (a full
// name).
func (c *Client) Leases(sub string) *Leases {
	return newLeases(sub, DefaultLeaseExtension, func(ctx context.Context, ackIDs []string, d time.Duration) error {
		return c.modifyAckDeadline(ctx, sub, ackIDs, d)
	})
}

func newLeases(sub string, deadline time.Duration, extend func(context.Context, []string, time.Duration) error) *Leases {
	return &Leases{sub: sub, deadline: deadline, extend: extend, held: map[string]struct{}{}}
}

// Hold extends the leases of the messages with these ack IDs to the lease
// deadline now, and keeps them extended until they are released.
func (l *Leases) Hold(ctx context.Context, ackIDs []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ackIDs {
		l.held[id] = struct{}{}
	}
	if err := l.extend(ctx, ackIDs, l.deadline); err != nil {
		return fmt.Errorf("hold %d messages of %s: %w", len(ackIDs), l.sub, err)
	}
	return nil
}

// Release stops extending the leases of these ack IDs: call it before
// acking or nacking them.
func (l *Leases) Release(ackIDs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ackIDs {
		delete(l.held, id)
	}
}

// ReleaseAll stops extending every lease and returns the ack IDs that
// were held, to give them back.
func (l *Leases) ReleaseAll() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := slices.Collect(maps.Keys(l.held))
	clear(l.held)
	return ids
}

// Held returns how many messages are held.
func (l *Leases) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// Run renews the held leases every third of the lease deadline until ctx
// ends (nil). A renewal that fails is tried again at the next tick; a
// second failure in a row is an error, since the leases then have a third
// of their time left.
func (l *Leases) Run(ctx context.Context) error {
	tick := time.NewTicker(l.deadline / 3)
	defer tick.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		err := l.renew(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			failed = 0
		case failed > 0:
			return err
		default:
			failed++
		}
	}
}

// renew extends every held lease once.
func (l *Leases) renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return nil
	}
	ids := slices.Collect(maps.Keys(l.held))
	if err := l.extend(ctx, ids, l.deadline); err != nil {
		return fmt.Errorf("extend the leases of %d messages of %s: %w", len(ids), l.sub, err)
	}
	return nil
}
