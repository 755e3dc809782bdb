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
// under way (docs/design.md#sharing-the-pool). It returns the cancel
// functions to call once p.mu is released; p.mu is held.
//
// A fair share is the pool divided by max-min fairness among the active
// endpoints: each wants its limit while it asks for a slot, else what it
// holds, within its limit; an endpoint wanting less than an equal part
// keeps what it wants and leaves the rest to the others.
func (p *pool) reclaim() []context.CancelFunc {
	if p.cuttable == 0 || p.used < p.size || len(p.waiting) == 0 {
		return nil
	}
	p.shares()
	needy := 0
	for _, w := range p.waiting {
		if p.admits(w.ep) && float64(w.ep.inFlight) < w.ep.share {
			needy++
		}
	}
	var cuts []context.CancelFunc
	for needy > p.cutting {
		f := p.victim()
		if f == nil {
			break
		}
		f.cut = true
		f.ep.cuttable--
		p.cuttable--
		p.cutting++
		f.ep.reclaimed.Inc()
		cuts = append(cuts, f.cancel)
	}
	return cuts
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
	for f := most.flights.front; f != nil; f = f.next {
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
