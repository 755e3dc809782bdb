package worker

import (
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// memory holds what this process settled for good, so that a repeat is
// settled without a request (docs/design.md#the-memory-of-outcomes): the
// outcomes of operations whose final state it verified (an operation's
// final state never changes), and the outcomes of the messages it acked
// (a delivery of an acked message is Pub/Sub's repeat, whose ack was lost
// or void). It holds at most max entries, the oldest leaving first, and an
// entry older than age is not used. An entry is the same size whatever
// the name or message ID it stands for: its key is a digest.
type memory struct {
	max int
	age time.Duration

	mu      sync.Mutex
	entries map[memoryKey]remembered
	// order holds the keys, oldest first from next once it is full: a ring
	// of up to max keys, each key once.
	order []memoryKey
	next  int
}

// memoryKey is the first 16 bytes of the SHA-256 of what an entry stands
// for. Two of 200,000 entries share one with a probability of about
// 10⁻²⁹: never, in practice.
type memoryKey [16]byte

// remembered is one entry: how something ended, and when.
type remembered struct {
	outcome Outcome
	code    string
	at      time.Time
}

func newMemory(max int, age time.Duration) *memory {
	return &memory{max: max, age: age, entries: map[memoryKey]remembered{}}
}

// The two kinds of keys: a message ID, and an operation (service host and
// name), which no message ID can be mistaken for.
func messageKey(id string) memoryKey              { return digest("message\x00", id) }
func operationKey(service, name string) memoryKey { return digest("operation\x00", service+"/"+name) }

func digest(kind, s string) memoryKey {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte(s))
	var k memoryKey
	copy(k[:], h.Sum(nil))
	return k
}

// put remembers r under key. An entry of the same key is replaced and keeps
// its place in the order.
func (m *memory) put(key memoryKey, r remembered) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; ok {
		m.entries[key] = r
		return
	}
	if len(m.order) < m.max {
		m.order = append(m.order, key)
	} else {
		delete(m.entries, m.order[m.next])
		m.order[m.next] = key
		m.next = (m.next + 1) % m.max
	}
	m.entries[key] = r
}

// get returns the entry of key unless it is older than age.
func (m *memory) get(key memoryKey, now time.Time) (remembered, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.entries[key]
	if !ok || now.Sub(r.at) > m.age {
		return remembered{}, false
	}
	return r, true
}

// rememberedMessage is the outcome of j's message when this process acked
// it before, as a result that says so.
func (w *Worker) rememberedMessage(j *job) (result, bool) {
	r, ok := w.memory.get(messageKey(j.d.ID), j.received)
	if !ok {
		return result{}, false
	}
	return r.result(fmt.Sprintf("settled from memory: this process acked this message as %s at %s; no request was sent",
		r.outcome, r.at.UTC().Format(time.RFC3339))), true
}

// rememberedOperation is the outcome of j's operation when this process
// verified its final state, as a result that says so.
func (w *Worker) rememberedOperation(j *job) (result, bool) {
	r, ok := w.memory.get(operationKey(j.svc.Host, j.req.Name), j.received)
	if !ok {
		return result{}, false
	}
	return r.result(fmt.Sprintf("settled from memory: this process found the operation done (%s) at %s; no request was sent",
		r.outcome, r.at.UTC().Format(time.RFC3339))), true
}

func (r remembered) result(message string) result {
	return result{outcome: r.outcome, code: r.code, message: message, fromMemory: true}
}

// rememberOperation keeps r when it is the operation's verified final
// state.
func (w *Worker) rememberOperation(j *job, r result) {
	if r.outcome.final() && !r.fromMemory {
		w.memory.put(operationKey(j.svc.Host, j.req.Name), remembered{outcome: r.outcome, code: r.code, at: time.Now()})
	}
}

// rememberMessage keeps the outcome of j's message, which was acked.
func (w *Worker) rememberMessage(j *job, r result) {
	if j.d.ID != "" {
		w.memory.put(messageKey(j.d.ID), remembered{outcome: r.outcome, code: r.code, at: time.Now()})
	}
}
