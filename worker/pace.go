package worker

import (
	"math"
	"time"
)

// pacer spaces sends at a rate. Invariant: never more than the rate in
// any one second, not even as the API sees it. Sends are scheduled 1/rate
// apart, and a log of the sends of the last second plus windowSlack holds
// back any send that would put more than the rate into one second. A
// send's time in the log is when it left the process, once known (wired):
// the goroutine handoffs and the connection between the pacer and the wire
// then count for nothing, and the slack only has to cover the way from the
// wire to the API. A send that comes late for its slot (a late timer, a
// late goroutine) does not move the schedule, if less than one interval
// late: the next may follow at once, so that the lateness of each send does
// not add up to a slower rate, and no more than two leave together. The
// caller serialises wait and sent, and holds whatever lock guards the
// pacer.
type pacer struct {
	// planned is the schedule slot of the last send; next is the slot the
	// pending send (between wait and sent) was given; window holds the
	// recent sends while the rate is finite, in the order of their times.
	planned, next time.Time
	window        []send
	lastID        uint64
}

// send is one send in a pacer's log.
type send struct {
	at time.Time
	id uint64
}

// windowSlack is added to the second of the log: the most by which the way
// from the wire to the API may reorder the sends as it sees them.
const windowSlack = 25 * time.Millisecond

// wait returns how long a request must wait before it may leave at now,
// at rate requests per second (+Inf: at once).
func (p *pacer) wait(now time.Time, rate float64) time.Duration {
	p.next = now
	if math.IsInf(rate, 1) {
		return 0
	}
	if !p.planned.IsZero() {
		interval := time.Duration(float64(time.Second) / rate)
		p.next = later(now.Add(-interval), p.planned.Add(interval))
	}
	ready := p.next
	p.prune(now)
	if n := int(rate); n >= 1 && len(p.window) >= n {
		ready = later(ready, p.window[len(p.window)-n].at.Add(time.Second+windowSlack))
	}
	return max(ready.Sub(now), 0)
}

// sent records a request leaving at now, after wait, at the same rate,
// and returns its id in the log (0 if none).
func (p *pacer) sent(now time.Time, rate float64) uint64 {
	p.planned = p.next
	if math.IsInf(rate, 1) {
		p.window = p.window[:0]
		return 0
	}
	p.prune(now)
	p.lastID++
	p.window = append(p.window, send{at: now, id: p.lastID})
	return p.lastID
}

// wired moves send id's time to at, when it left the process, if later,
// keeping the log in order.
func (p *pacer) wired(id uint64, at time.Time) {
	for i := len(p.window) - 1; i >= 0; i-- {
		if p.window[i].id != id {
			continue
		}
		if !at.After(p.window[i].at) {
			return
		}
		p.window[i].at = at
		for ; i+1 < len(p.window) && p.window[i+1].at.Before(at); i++ {
			p.window[i], p.window[i+1] = p.window[i+1], p.window[i]
		}
		return
	}
}

// prune drops the sends that left the window from the log.
func (p *pacer) prune(now time.Time) {
	i := 0
	for i < len(p.window) && now.Sub(p.window[i].at) >= time.Second+windowSlack {
		i++
	}
	p.window = p.window[i:]
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
