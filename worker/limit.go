package worker

import (
	"context"
	"math"
	"time"
)

// The adaptive concurrency limit of an endpoint, and what makes a request
// overdue (docs/design.md#sharing-the-pool).
const (
	// overdueFactor × an endpoint's typical latency, but at least
	// overdueFloor, is how long its request may go unanswered before it is
	// overdue: a sign that the endpoint is not serving.
	overdueFactor = 10
	overdueFloor  = 2 * time.Second
	// quietFactor × an endpoint's typical latency without an answer, while
	// it has requests in flight, makes it quiet: it borrows no slots.
	quietFactor = 4
	// typicalWeight is the weight of one answer's latency in the typical
	// latency, a moving geometric mean: a single straggler moves it little,
	// a lasting change within a few dozen answers.
	typicalWeight = 1.0 / 8
)

// limiter is an endpoint's adaptive concurrency limit: how many of the
// pool's slots its requests may hold at once, between 1 and its service's
// cap. It starts at the cap, so that an endpoint alone has the whole pool.
// It halves, down to the requests still on time, for each request that
// becomes overdue (no answer within max(overdueFactor × typical latency,
// overdueFloor)) or times out without having been overdue; and it grows by
// one for each answer on time while the endpoint uses at least half of it,
// so that it doubles every round trip until it reaches the cap again. The
// pool's lock guards it.
type limiter struct {
	limit, max float64
	// logTypical is the log of the typical latency in seconds; known once
	// the endpoint has answered.
	logTypical float64
	known      bool
}

func newLimiter(max int) limiter {
	return limiter{limit: float64(max), max: float64(max)}
}

// admits reports whether an endpoint holding inFlight slots may take one more.
func (l *limiter) admits(inFlight int) bool { return float64(inFlight) < l.limit }

// overdueAfter is how long a request of the endpoint may go unanswered
// before it is overdue.
func (l *limiter) overdueAfter() time.Duration {
	if !l.known {
		return overdueFloor
	}
	return max(overdueFactor*l.typical(), overdueFloor)
}

// typical is the typical latency; the endpoint has answered.
func (l *limiter) typical() time.Duration {
	return time.Duration(math.Exp(l.logTypical) * float64(time.Second))
}

// answered records an answer after latency; onTime is false when the
// request was overdue first. inFlight is what the endpoint held with it.
func (l *limiter) answered(latency time.Duration, onTime bool, inFlight int) {
	sample := math.Log(max(latency, time.Microsecond).Seconds())
	if !l.known {
		l.logTypical, l.known = sample, true
	} else {
		l.logTypical += (sample - l.logTypical) * typicalWeight
	}
	if onTime && float64(inFlight) >= l.limit/2 {
		l.limit = min(l.max, l.limit+1)
	}
}

// silent records a request that became overdue, or that ended without an
// answer (timed out, or cut) without having been overdue first, while
// onTime of the endpoint's requests in flight were still on time.
func (l *limiter) silent(onTime int) {
	l.limit = max(1, min(l.limit/2, float64(onTime)))
}

// flight is one request holding a slot of the pool.
type flight struct {
	ep *endpoint
	// sent is when the request left; zero while it waits for its pace.
	sent time.Time
	// cancel ends the request's context: how a cut is made.
	cancel context.CancelFunc
	// late: the request became overdue; cut: its slot was reclaimed,
	// underCap: for another endpoint of its service at the service's cap.
	late, cut, underCap bool
	prev, next          *flight
}

// flightList is an endpoint's sent requests, oldest first.
type flightList struct{ front, back *flight }

func (l *flightList) push(f *flight) {
	f.prev, f.next = l.back, nil
	if l.back != nil {
		l.back.next = f
	} else {
		l.front = f
	}
	l.back = f
}

func (l *flightList) remove(f *flight) {
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.front = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.back = f.prev
	}
	f.prev, f.next = nil, nil
}

// sending records f leaving its line now (paced: after waiting for its
// pace), and arms its endpoint's overdue timer if it is not armed (see
// send).
func (p *pool) sending(f *flight, now time.Time, paced bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f.ep.line.leave(paced)
	p.send(f, now)
}

// send records f leaving now, and arms its endpoint's overdue timer if it
// is not armed; p.mu is held.
func (p *pool) send(f *flight, now time.Time) {
	ep := f.ep
	f.sent = now
	ep.flights.push(f)
	if !ep.timerArmed {
		p.arm(ep, ep.limit.overdueAfter())
	}
}

// arm sets ep's overdue timer to fire after d; p.mu is held.
func (p *pool) arm(ep *endpoint, d time.Duration) {
	ep.timerArmed = true
	if ep.overdueTimer == nil {
		ep.overdueTimer = time.AfterFunc(d, func() { p.overdue(ep) })
		return
	}
	ep.overdueTimer.Reset(d)
}

// overdue marks ep's flights that have gone unanswered past its overdue
// threshold, shrinks its limit for each, re-arms the timer for the next
// one, and reclaims slots if another endpoint needs them.
func (p *pool) overdue(ep *endpoint) {
	p.mu.Lock()
	ep.timerArmed = false
	now := time.Now()
	after := ep.limit.overdueAfter()
	for f := ep.flights.front; f != nil; f = f.next {
		if f.late {
			continue
		}
		if due := f.sent.Add(after); now.Before(due) {
			p.arm(ep, due.Sub(now))
			break
		}
		p.markLate(f)
	}
	cuts := p.reclaim()
	p.mu.Unlock()
	cut(cuts)
}

// markLate records that f became overdue; p.mu is held.
func (p *pool) markLate(f *flight) {
	ep := f.ep
	f.late = true
	ep.late++
	ep.cuttable++
	p.cuttable++
	ep.lastSilent.Store(time.Now().UnixNano())
	ep.limit.silent(ep.flightsOnTime())
	ep.limitGauge.Set(ep.limit.limit)
}

// flightsOnTime is how many of ep's sent requests are not overdue; the
// pool's lock is held.
func (ep *endpoint) flightsOnTime() int {
	n := 0
	for f := ep.flights.front; f != nil; f = f.next {
		if !f.late {
			n++
		}
	}
	return n
}

// quiet reports whether ep has requests in flight and no answer since the
// oldest was sent, or for quietFactor × its typical latency, whichever is
// shorter; an endpoint that has never answered is quiet as soon as it has
// a request in flight. The pool's lock is held.
func (ep *endpoint) quiet(now time.Time) bool {
	f := ep.flights.front
	if f == nil {
		return false
	}
	if !ep.limit.known {
		return true
	}
	since := later(time.Unix(0, ep.lastAnswer.Load()), f.sent)
	return now.Sub(since) > quietFactor*ep.limit.typical()
}

// stalled reports whether ep answers nothing: a request of its became
// overdue, or ended unanswered (timed out or cut), after its last answer.
func (ep *endpoint) stalled() bool {
	return ep.lastSilent.Load() > ep.lastAnswer.Load()
}
