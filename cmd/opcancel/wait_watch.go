package main

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"opcancel/worker"
)

// watch follows the result events of one batch to its end, for `wait`,
// `submit --wait` and the demo's table: the messages published (by message
// ID) and the outcome of each. It learns the messages from the batch's
// manifest (manifest, for wait and submit) or from its caller (expect and
// published, for the demo). An event counts when its batch is the batch's
// and its message ID one of the batch's messages, or, once every message
// is known, when its service and name are those of one of them: a copy of
// the batch's message published again under a new ID, as `replay` does
// with a dead letter (Pub/Sub's dead letters do not keep the original's
// ID). An event of another batch, or for a name the batch did not publish,
// is ignored, and a message's later event (a redelivery's, a replay's)
// replaces its outcome only when it finished later: the later finishedAt
// is the last word (docs/contract.md#result-events). See
// docs/contract.md#opcancel-wait.
type watch struct {
	batch string
	// changed has a value when something changed since the last receive.
	changed chan struct{}

	mu sync.Mutex
	// done is closed once publishing is over and every message has an
	// outcome; replaced by an open one when messages come after that
	// (finished).
	done  chan struct{}
	msgs  map[string]*publishedMessage
	order []*publishedMessage // in the order learnt
	// byName are the messages of each service and name (nameKey).
	byName map[string][]*publishedMessage
	// early are the events for message IDs not known yet, while
	// publishing goes on.
	early      map[string]worker.Event
	publishing bool
	ended      int
	counts     map[worker.Outcome]int
	// runs are the runs of the batch's manifest, by run ID; records counts
	// the manifest records taken.
	runs    map[string]*manifestRun
	records int
	// conflict says how records of a run contradict each other, once some
	// do (wait_runs.go): the batch's publishing is then never over.
	conflict string
	// warn, if set, is told the first conflict.
	warn func(string)
	// own is the run of submit --wait that follows its own batch: its end
	// ends publishing, whatever it left unpublished (wait_runs.go).
	own string
	// last is the end of the run that ended publishing, or the latest end
	// seen while it goes on; nil before any.
	last *manifestEnd
}

// publishedMessage is a published message and its outcome.
type publishedMessage struct {
	service, name string
	event         *worker.Event // nil: no outcome yet
}

func newWatch(batch string) *watch {
	return &watch{
		batch: batch, changed: make(chan struct{}, 1), done: make(chan struct{}),
		msgs: map[string]*publishedMessage{}, byName: map[string][]*publishedMessage{}, early: map[string]worker.Event{}, publishing: true,
		counts: map[worker.Outcome]int{}, runs: map[string]*manifestRun{},
	}
}

// expect adds a message the server has: id, naming service's name.
func (w *watch) expect(id, service, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.add(id, service, name)
	w.signal()
}

func (w *watch) add(id, service, name string) {
	if _, ok := w.msgs[id]; ok {
		return
	}
	m := &publishedMessage{service: service, name: name}
	w.msgs[id] = m
	w.order = append(w.order, m)
	key := nameKey(service, name)
	w.byName[key] = append(w.byName[key], m)
	// The event can come first: the worker may be quicker than the answer
	// to the publish, or than the manifest.
	if ev, ok := w.early[id]; ok {
		delete(w.early, id)
		w.apply(m, ev)
	}
}

// published says that every message has been expected.
func (w *watch) published() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.endPublishing()
}

// endPublishing: every message is known, so that an event still waiting
// for its message ID is a copy's (copyOutcome).
func (w *watch) endPublishing() {
	w.publishing = false
	early := w.early
	w.early = nil
	for _, ev := range early {
		w.copyOutcome(ev)
	}
	w.checkDone()
}

// endsWith makes run's end, once each of its parts is in, an end of
// publishing, whatever it left unpublished: submit --wait follows its own
// run (whose parts list the earlier runs' messages too).
func (w *watch) endsWith(run string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.own = run
}

// manifest takes one record of the batch's manifest. Publishing is over
// once the runs seen say so (watch.over). A message learnt after that (the
// batch submitted again) opens publishing again, until the runs say so
// again.
func (w *watch) manifest(rec manifestRecord) {
	if rec.Batch != w.batch {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.records++
	run, ok := w.runs[rec.Run]
	if !ok {
		run = &manifestRun{parts: map[int][sha256.Size]byte{}}
		w.runs[rec.Run] = run
		if len(w.runs) > maxBatchRuns {
			w.contradicted(fmt.Sprintf("its manifest names more than %d runs", maxBatchRuns))
		}
	}
	if why := run.take(rec); why != "" {
		w.contradicted(fmt.Sprintf("run %s of its manifest has %s", rec.Run, why))
	}
	known := len(w.msgs)
	for _, m := range rec.Messages {
		w.add(m.MessageID, m.Service, m.Name)
	}
	if len(w.msgs) > known && !w.publishing {
		w.reopen()
	}
	if w.publishing {
		if last := w.over(); last != nil {
			w.last = last
			w.endPublishing()
		} else if rec.End != nil && (w.last == nil || rec.End.EndedAt.After(w.last.EndedAt)) {
			w.last = rec.End
		}
	}
	w.signal()
}

// reopen: messages came after publishing ended; wait for the run that
// publishes them to end.
func (w *watch) reopen() {
	w.publishing = true
	w.early = map[string]worker.Event{}
	if isClosed(w.done) {
		w.done = make(chan struct{})
	}
}

// finished is closed once publishing is over and every message has an
// outcome.
func (w *watch) finished() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
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
	case ok:
		w.apply(m, ev)
	case w.publishing:
		if prev, seen := w.early[ev.MessageID]; !seen || ev.FinishedAt.After(prev.FinishedAt) {
			w.early[ev.MessageID] = ev
		}
	default:
		w.copyOutcome(ev)
	}
}

// copyOutcome takes an event for a message ID the batch does not have, once
// every message of the batch is known: it is a copy of the batch's
// messages of its service and name, published again under a new ID (a
// replayed dead letter), and counts as a later event of each of them.
func (w *watch) copyOutcome(ev worker.Event) {
	for _, m := range w.byName[nameKey(ev.Service, ev.Name)] {
		w.apply(m, ev)
	}
}

// apply takes ev as an event of m: its outcome, unless m has one that
// finished as late or later.
func (w *watch) apply(m *publishedMessage, ev worker.Event) {
	switch {
	case m.event == nil:
		w.ended++
	case ev.FinishedAt.After(m.event.FinishedAt):
		if w.counts[m.event.Outcome]--; w.counts[m.event.Outcome] == 0 {
			delete(w.counts, m.event.Outcome)
		}
	default:
		return
	}
	m.event = &ev
	w.counts[ev.Outcome]++
	w.checkDone()
	w.signal()
}

// nameKey is the key of a service's operation name.
func nameKey(service, name string) string { return service + "/" + name }

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

// watchStatus is where a watch stands.
type watchStatus struct {
	// ended of total messages have an outcome; counts has each outcome's.
	ended, total int
	counts       map[worker.Outcome]int
	// publishing: the messages are not all known yet; records counts the
	// manifest records taken.
	publishing bool
	records    int
	// conflict: records of a run contradict each other (wait_runs.go).
	conflict string
	// headless: a run of the manifest was read without its first part,
	// which every run publishes before anything else: it was published
	// before the subscription's start (wait --since).
	headless bool
}

func (w *watch) status() watchStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	counts := make(map[worker.Outcome]int, len(w.counts))
	for o, n := range w.counts {
		counts[o] = n
	}
	headless := false
	for _, r := range w.runs {
		_, first := r.parts[1]
		headless = headless || !first
	}
	return watchStatus{ended: w.ended, total: len(w.msgs), counts: counts, publishing: w.publishing, records: w.records, conflict: w.conflict,
		headless: headless}
}

// summary is the summary line of the run that ended the batch's
// publishing, or of the latest run seen if none has; ok is false when the
// manifest had no end record.
func (w *watch) summary() (sum submitSummary, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return submitSummary{batch: w.batch, published: len(w.msgs)}, false
	}
	return w.last.summary(w.batch), true
}

// results returns the messages in the order learnt, with their outcomes
// so far.
func (w *watch) results() []publishedMessage {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]publishedMessage, len(w.order))
	for i, m := range w.order {
		out[i] = *m
	}
	return out
}
