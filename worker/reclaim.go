package worker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"opcancel/lro"
)

// reclaim cuts overdue requests of endpoints that hold more than their fair
// share of the pool, as many as there are requests waiting, admitted by
// their own limits, for an endpoint below its share, less the cuts already
// under way (docs/design.md#sharing-the-pool). A request waiting only for
// its service's maxConcurrency has an overdue request of another endpoint
// of the service cut the same way, one at a time, if that endpoint holds
// more than an equal part of the cap. It returns the cancel functions to
// call once p.mu is released; p.mu is held.
//
// A fair share is the pool divided by max-min fairness among the active
// endpoints: each wants its limit while it asks for a slot, else what it
// holds, within its limit; an endpoint wanting less than an equal part
// keeps what it wants and leaves the rest to the others.
func (p *pool) reclaim() []context.CancelFunc {
	if p.cuttable == 0 || len(p.waiting) == 0 {
		return nil
	}
	var cuts []context.CancelFunc
	needy, shared := 0, false
	for _, w := range p.waiting {
		ep := w.ep
		switch {
		case !ep.limit.admits(ep.inFlight):
		case ep.svc.full():
			if ep.svc.cutting > 0 {
				break // one at a time
			}
			if f := ep.svc.victim(ep); f != nil {
				f.underCap = true
				ep.svc.cutting++
				cuts = append(cuts, p.cut(f))
			}
		case p.used >= p.size:
			if !shared {
				p.shares()
				shared = true
			}
			if float64(ep.inFlight) < ep.share {
				needy++
			}
		}
	}
	for needy > p.cutting {
		f := p.victim()
		if f == nil {
			break
		}
		cuts = append(cuts, p.cut(f))
	}
	return cuts
}

// cut marks f cut and returns its cancel function; p.mu is held.
func (p *pool) cut(f *flight) context.CancelFunc {
	f.cut = true
	f.ep.cuttable--
	p.cuttable--
	p.cutting++
	f.ep.reclaimed.Inc()
	return f.cancel
}

// full reports whether the service holds its maxConcurrency; the pool's
// lock is held.
func (st *serviceState) full() bool { return st.capped && st.inFlight >= st.limit }

// victim is, for a request to ep waiting for its service's cap, the
// oldest overdue request, not cut yet, of the service's endpoint most
// above an equal part of the cap, if ep holds less than one; the pool's
// lock is held.
func (st *serviceState) victim(ep *endpoint) *flight {
	active := 0
	for _, e := range st.endpoints {
		if e.active >= 0 {
			active++
		}
	}
	part := float64(st.limit) / float64(max(active, 1))
	if float64(ep.inFlight) >= part {
		return nil
	}
	var most *endpoint
	for _, e := range st.endpoints {
		if e.cuttable > 0 && float64(e.inFlight) > part && (most == nil || e.inFlight > most.inFlight) {
			most = e
		}
	}
	if most == nil {
		return nil
	}
	return most.oldestCuttable()
}

// shares sets the fair share of each active endpoint; p.mu is held.
func (p *pool) shares() {
	wants := append(p.sorted[:0], p.active...)
	p.sorted = wants
	want := func(ep *endpoint) float64 {
		if ep.wants() {
			return ep.limit.limit
		}
		return min(ep.limit.limit, float64(ep.inFlight))
	}
	slices.SortFunc(wants, func(a, b *endpoint) int {
		switch wa, wb := want(a), want(b); {
		case wa < wb:
			return -1
		case wa > wb:
			return 1
		}
		return 0
	})
	left := float64(p.size)
	for i, ep := range wants {
		ep.share = min(want(ep), left/float64(len(wants)-i))
		left -= ep.share
	}
}

// victim is the oldest overdue request, not cut yet, of the endpoint most
// above its fair share (counting the cuts under way as done), or nil when
// no endpoint above its share has one; p.mu is held.
func (p *pool) victim() *flight {
	var most *endpoint
	var excess float64
	for _, ep := range p.active {
		if ep.cuttable == 0 {
			continue
		}
		cutting := ep.late - ep.cuttable
		if e := float64(ep.inFlight-cutting) - ep.share; e > 0 && (most == nil || e > excess) {
			most, excess = ep, e
		}
	}
	if most == nil {
		return nil
	}
	return most.oldestCuttable()
}

// oldestCuttable is ep's oldest overdue request not cut yet, or nil; the
// pool's lock is held.
func (ep *endpoint) oldestCuttable() *flight {
	for f := ep.flights.front; f != nil; f = f.next {
		if f.late && !f.cut {
			return f
		}
	}
	return nil
}

// cut cancels the requests reclaim chose, outside the pool's lock.
func cut(cancels []context.CancelFunc) {
	for _, c := range cancels {
		c()
	}
}

// reclaimedError is the failure of a request whose slot was reclaimed: no
// answer for d, far past its endpoint's usual latency. It is transient,
// like a timeout: the job retries it after its backoff.
func reclaimedError(d time.Duration) error {
	return &lro.Error{Code: lro.Transport, Message: fmt.Sprintf(
		"no answer after %s, far past the endpoint's usual latency: the request was cut to give its slot to another endpoint (see docs/design.md#sharing-the-pool)", d.Round(time.Millisecond))}
}
