package main

import (
	"sync"

	"opcancel/worker"
)

// watch follows the result events of one batch to its end, for
// `submit --wait` and the demo's table: the messages published (by message
// ID) and the outcome of each. An event counts when its batch and message
// ID are the batch's: an event of another batch, or for a message the batch
// did not publish, is ignored, and a message's second event (a
// redelivery's) changes nothing. See docs/contract.md#opcancel-submit.
type watch struct {
	batch string
	// changed has a value when something changed since the last receive.
	changed chan struct{}
	// done is closed once publishing is over and every message has an
	// outcome.
	done chan struct{}

	mu         sync.Mutex
	msgs       map[string]*publishedMessage
	order      []*publishedMessage // in the order published
	early      map[string]worker.Event
	publishing bool
	ended      int
	counts     map[worker.Outcome]int
}

// publishedMessage is a published message and its outcome.
type publishedMessage struct {
	service, name string
	event         *worker.Event // nil: no outcome yet
}

func newWatch(batch string) *watch {
	return &watch{
		batch: batch, changed: make(chan struct{}, 1), done: make(chan struct{}),
		msgs: map[string]*publishedMessage{}, early: map[string]worker.Event{}, publishing: true,
		counts: map[worker.Outcome]int{},
	}
}

// expect adds a message the server has: id, naming service's name.
func (w *watch) expect(id, service, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.msgs[id]; ok {
		return
	}
	m := &publishedMessage{service: service, name: name}
	w.msgs[id] = m
	w.order = append(w.order, m)
	// The event can come first: the worker may be quicker than the answer
	// to the publish.
	if ev, ok := w.early[id]; ok {
		delete(w.early, id)
		w.apply(m, ev)
	}
	w.signal()
}

// published says that every message has been expected.
func (w *watch) published() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.publishing = false
	w.early = nil
	w.checkDone()
}

// record takes one result event.
func (w *watch) record(ev worker.Event) {
	if ev.Batch != w.batch {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.msgs[ev.MessageID]
	switch {
	case !ok && w.publishing:
		if _, seen := w.early[ev.MessageID]; !seen {
			w.early[ev.MessageID] = ev
		}
	case ok && m.event == nil:
		w.apply(m, ev)
		w.signal()
	}
}

// apply records ev as m's outcome.
func (w *watch) apply(m *publishedMessage, ev worker.Event) {
	m.event = &ev
	w.ended++
	w.counts[ev.Outcome]++
	w.checkDone()
}

func (w *watch) checkDone() {
	if !w.publishing && w.ended == len(w.msgs) {
		select {
		case <-w.done:
		default:
			close(w.done)
		}
	}
}

func (w *watch) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// status returns how many messages have an outcome, of how many, and the
// count of each outcome.
func (w *watch) status() (ended, total int, counts map[worker.Outcome]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	counts = make(map[worker.Outcome]int, len(w.counts))
	for o, n := range w.counts {
		counts[o] = n
	}
	return w.ended, len(w.msgs), counts
}

// results returns the messages in the order published, with their
// outcomes so far.
func (w *watch) results() []publishedMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]publishedMessage, len(w.order))
	for i, m := range w.order {
		out[i] = *m
	}
	return out
}
