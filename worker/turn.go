package worker

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// turn is an endpoint's turn: held by one of its requests at a time, the
// one that asks for a slot of the pool and waits for the pace (see
// Worker.take). Invariant: the turn passes to the waiting request due
// first, in order of arrival among equals. A new job's requests (its
// cancel, the requests before it is accepted, its first poll) are due as
// they line up; a later poll, of an operation still running a poll ago, is
// due its yield later (see pollYield). So a new job's request goes before
// the polls that lined up less than their yield before it, and a poll
// gives way to new jobs' requests for its yield at most: past it, only the
// requests due before it go first (docs/design.md#new-jobs-before-polls).
// Once shutdown has begun, none gives way: each is due as it lined up.
type turn struct {
	mu   sync.Mutex
	held bool
	// waiting are the requests waiting for the turn, earliest due first;
	// arrived numbers them in order of arrival.
	waiting turnQueue
	arrived uint64
}

// turnWaiter is a request waiting for its endpoint's turn; ready is
// closed when the turn is handed to it.
type turnWaiter struct {
	// lined is when it lined up; due, when it is due (lined, or its yield
	// later).
	lined time.Time
	due   time.Time
	order uint64
	// index is the waiter's place in the queue, -1 once out of the queue.
	index int
	ready chan struct{}
}

// take waits for the turn for a request due yield after now (0 for a new
// job's request), and returns nil once the caller holds it, or ctx's
// error; the holder gives it on with pass. Once hurry is closed (shutdown
// has begun), the request yields nothing: it is due as it lined up.
func (t *turn) take(ctx context.Context, yield time.Duration, hurry <-chan struct{}) error {
	t.mu.Lock()
	if !t.held {
		t.held = true
		t.mu.Unlock()
		return nil
	}
	now := time.Now()
	if yield == 0 {
		hurry = nil
	}
	tw := &turnWaiter{lined: now, due: now.Add(yield), order: t.arrived, ready: make(chan struct{})}
	t.arrived++
	heap.Push(&t.waiting, tw)
	t.mu.Unlock()
	for waiting := true; waiting; {
		select {
		case <-tw.ready:
			return nil
		case <-hurry:
			hurry = nil
			t.hurry(tw)
		case <-ctx.Done():
			waiting = false
		}
	}
	t.mu.Lock()
	if tw.index < 0 { // handed the turn meanwhile: give it on
		t.mu.Unlock()
		t.pass()
		return ctx.Err()
	}
	heap.Remove(&t.waiting, tw.index)
	t.mu.Unlock()
	return ctx.Err()
}

// hurry makes tw, if still waiting, due as it lined up.
func (t *turn) hurry(tw *turnWaiter) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tw.index >= 0 {
		tw.due = tw.lined
		heap.Fix(&t.waiting, tw.index)
	}
}

// pass gives the turn to the waiting request due first, or frees it.
func (t *turn) pass() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.waiting) == 0 {
		t.held = false
		return
	}
	close(heap.Pop(&t.waiting).(*turnWaiter).ready)
}

// turnQueue is a heap of the requests waiting for a turn, by due time,
// then by arrival.
type turnQueue []*turnWaiter

func (q turnQueue) Len() int { return len(q) }

func (q turnQueue) Less(i, j int) bool {
	if !q[i].due.Equal(q[j].due) {
		return q[i].due.Before(q[j].due)
	}
	return q[i].order < q[j].order
}

func (q turnQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

func (q *turnQueue) Push(x any) {
	tw := x.(*turnWaiter)
	tw.index = len(*q)
	*q = append(*q, tw)
}

func (q *turnQueue) Pop() any {
	old := *q
	tw := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	tw.index = -1
	return tw
}
