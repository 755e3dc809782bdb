package worker

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"
)

// pool is the --concurrency slots that every endpoint's requests share
// (docs/design.md#sharing-the-pool). It is work-conserving: a slot that one
// endpoint does not use is another's for the asking, an endpoint alone has
// all of them. An endpoint takes a slot only within its adaptive limit
// (limit.go) and its service's cap; when several wait, a freed slot goes to
// the one holding fewest; and an endpoint that holds more than its fair
// share has its overdue requests cut when another, below its share, waits
// (reclaim.go).
type pool struct {
	mu   sync.Mutex
	size int
	used int
	// waiting are the requests waiting for a slot, at most one per
	// endpoint (the one whose turn it is), in the order they came.
	waiting []*waiter
	// active are the endpoints that hold a slot or have requests in line
	// for one; sorted is reclaim's buffer for them.
	active, sorted []*endpoint
	// cuttable counts the overdue requests not cut yet, cutting those cut
	// and not yet ended, of all endpoints.
	cuttable, cutting int
}

// waiter is a request waiting for a slot; granted is closed when it has
// one, if the request had to wait.
type waiter struct {
	ep      *endpoint
	granted chan struct{}
	// flight is the slot, set when granted.
	flight *flight
}

func newPool(size int) *pool { return &pool{size: size} }

// lineUp counts a request to ep in its line: once it has ep's turn it
// asks for a slot, and while ep's next request is on its way to the pool
// the slot ep is owed is kept for it (see dispatch).
func (p *pool) lineUp(ep *endpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.line.join()
	ep.lined++
	p.activate(ep)
}

// leaveLine uncounts a request of ep that leaves its line without being
// sent; lined says whether it had not asked for a slot yet, paced whether
// it waited for its pace.
func (p *pool) leaveLine(ep *endpoint, lined, paced bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.line.leave(paced)
	if lined {
		ep.lined--
		p.deactivate(ep)
		p.dispatch()
	}
}

// tryTake gives a request to ep a slot at once, without its turn, and
// sends it, when nothing would make it wait or go later: ep is paced by
// no rate, none of its requests is in line, the pool has a slot its limits
// admit, and no other endpoint's request is on its way to that slot. A busy
// endpoint that the pool is not short for then has no line at all: its
// requests do not pass one by one through its turn (see take). It returns
// nil when the request must line up.
func (p *pool) tryTake(ep *endpoint) *flight {
	if !math.IsInf(ep.svc.rate, 1) || ep.throttle.holding.Load() {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ep.waiter != nil || ep.lined > 0 || ep.pacing || p.used >= p.size || !p.admits(ep) {
		return nil
	}
	for _, other := range p.active {
		if other != ep && other.waiter == nil && other.wants() && p.admits(other) {
			return nil // its slot is kept for it
		}
	}
	f := p.grant(ep)
	p.activate(ep)
	p.send(f, time.Now())
	return f
}

// acquire waits for a slot for a request to ep, and returns it: it is the
// caller's until finish. Only the request whose turn it is at ep calls it,
// after lineUp. From giveUp on (never if zero), it gives up with
// errWaitedOut once ep is failing (see endpoint.spent). The waiting is
// written out here rather than in helpers: every frame of a job's deepest
// path counts, since a job goroutine whose stack outgrows 4 KiB once keeps
// 8 KiB while it waits between polls.
func (p *pool) acquire(ctx context.Context, ep *endpoint, giveUp time.Time) (*flight, error) {
	p.mu.Lock()
	ep.lined--
	w := &ep.asking // free: the turn holder before this one has its answer
	*w = waiter{ep: ep}
	ep.waiter = w
	p.waiting = append(p.waiting, w)
	p.dispatch()
	if w.flight != nil {
		p.mu.Unlock()
		return w.flight, nil
	}
	w.granted = make(chan struct{})
	cuts := p.reclaim()
	p.mu.Unlock()
	cut(cuts)
	start := time.Now()
	var check *time.Timer
	var checks <-chan time.Time
	if !giveUp.IsZero() {
		check = time.NewTimer(time.Until(giveUp))
		defer check.Stop()
		checks = check.C
	}
	var err error
	for err == nil {
		select {
		case <-w.granted:
			ep.slotWait.Add(time.Since(start).Seconds())
			return w.flight, nil
		case <-ctx.Done():
			err = ctx.Err()
		case <-checks:
			if ep.spent(giveUp) {
				err = errWaitedOut
			} else {
				check.Reset(failingFor)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.flight != nil { // granted meanwhile: hand the slot on
		p.release(w.flight)
		return nil, err
	}
	p.unwait(w)
	p.deactivate(ep)
	p.dispatch() // an equal part of the pool may have grown
	return nil, err
}

// errWaitedOut is a request that gave up waiting in line: its job's retry
// budget ran out while its endpoint answered nothing (see
// docs/design.md#retries).
var errWaitedOut = errors.New("waited in line while the endpoint answered nothing")

// pacing records whether the request holding ep's turn waits for its pace:
// no other request of ep comes for a slot meanwhile, so none is kept for it.
func (p *pool) pacing(ep *endpoint, waiting bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ep.pacing = waiting
	if waiting {
		p.dispatch()
	}
}

// waitForRate records that a request of ep holds a slot while it waits
// for its service's rate (waiting), or no longer does.
func (p *pool) waitForRate(ep *endpoint, waiting bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if waiting {
		ep.svc.waitingForRate++
		return
	}
	ep.svc.waitingForRate--
	p.dispatch()
}

// admits reports whether ep may take another slot: its limit and its
// service's cap allow it, no request of its service holds a slot waiting
// for the service's rate (the next would wait behind it), and it holds
// less than an equal part of the pool among the active endpoints, or is
// answering. An endpoint whose requests have gone unanswered for a while
// (quiet) borrows nothing beyond its equal part. p.mu is held.
func (p *pool) admits(ep *endpoint) bool {
	if !ep.limit.admits(ep.inFlight) || ep.svc.full() || ep.svc.waitingForRate > 0 {
		return false
	}
	return ep.inFlight*len(p.active) < p.size || !ep.quiet(time.Now())
}

// wants reports whether ep asks for a slot: a request of its waits at the
// pool, or is on its way there (its turn just passed on), not held back by
// a pace; p.mu is held.
func (ep *endpoint) wants() bool {
	return ep.waiter != nil || (ep.lined > 0 && !ep.pacing)
}

// grant gives ep a slot; p.mu is held and one is free.
func (p *pool) grant(ep *endpoint) *flight {
	p.used++
	ep.inFlight++
	ep.svc.inFlight++
	ep.inFlightGauge.Inc()
	return &flight{ep: ep}
}

// dispatch hands the free slots to the endpoints that want one and that
// their limits admit, the one holding fewest first (a waiting request
// before one on its way among equals): every endpoint's part of a
// contended pool then tends to the same, or to its limit where that is
// lower. A slot owed to an endpoint whose request is still on its way to
// the pool stays free for it: a service that starts to hang must not
// gather the slots the others free in the moment between two of their
// requests. p.mu is held.
func (p *pool) dispatch() {
	for p.used < p.size {
		var best *endpoint
		for _, ep := range p.active {
			if !ep.wants() || !p.admits(ep) {
				continue
			}
			if best == nil || ep.inFlight < best.inFlight || (ep.inFlight == best.inFlight && best.waiter == nil && ep.waiter != nil) {
				best = ep
			}
		}
		if best == nil || best.waiter == nil {
			return
		}
		w := best.waiter
		p.unwait(w)
		w.flight = p.grant(best)
		if w.granted != nil {
			close(w.granted)
		}
	}
}

// unwait removes w from the waiting requests; p.mu is held.
func (p *pool) unwait(w *waiter) {
	for i, x := range p.waiting {
		if x == w {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			break
		}
	}
	w.ep.waiter = nil
}

// finish ends f: its slot goes back to the pool, and its endpoint's limit
// learns how it went: answered after latency, or ended without an answer
// (timed out, or cut). It reports whether f was cut.
func (p *pool) finish(f *flight, answered, timedOut bool, latency time.Duration) (wasCut bool) {
	p.mu.Lock()
	ep := f.ep
	if !f.sent.IsZero() {
		ep.flights.remove(f)
		if f.late {
			ep.late--
		}
		switch {
		case f.cut:
			p.cutting--
			if f.underCap {
				ep.svc.cutting--
			}
		case f.late:
			ep.cuttable--
			p.cuttable--
		}
		switch {
		case answered:
			ep.lastAnswer.Store(time.Now().UnixNano())
			ep.limit.answered(latency, !f.late && latency < ep.limit.overdueAfter(), ep.inFlight)
		case (timedOut || f.cut) && !f.late:
			ep.lastSilent.Store(time.Now().UnixNano())
			ep.limit.silent(ep.flightsOnTime())
		}
		ep.limitGauge.Set(ep.limit.limit)
	}
	wasCut = f.cut
	p.release(f)
	cuts := p.reclaim()
	p.mu.Unlock()
	cut(cuts)
	return wasCut
}

// release returns f's slot and hands the free slots on; p.mu is held.
func (p *pool) release(f *flight) {
	ep := f.ep
	p.used--
	ep.inFlight--
	ep.svc.inFlight--
	ep.inFlightGauge.Dec()
	p.deactivate(ep)
	p.dispatch()
}

// activate adds ep to the active endpoints; p.mu is held.
func (p *pool) activate(ep *endpoint) {
	if ep.active < 0 {
		ep.active = len(p.active)
		p.active = append(p.active, ep)
	}
}

// deactivate removes ep from the active endpoints if it holds no slot and
// none of its requests is in line for one; p.mu is held.
func (p *pool) deactivate(ep *endpoint) {
	if ep.active < 0 || ep.inFlight > 0 || ep.waiter != nil || ep.lined > 0 {
		return
	}
	last := p.active[len(p.active)-1]
	p.active[ep.active] = last
	last.active = ep.active
	p.active = p.active[:len(p.active)-1]
	ep.active = -1
}
