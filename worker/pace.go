package worker

import (
	"math"
	"time"
)

// pacer spaces sends at a rate. Invariant: never more than the rate in
// any one second, not even as the API sees it. Sends are scheduled 1/rate
// apart, and a log of the sends of the last second plus windowSlack holds
// back any send that would put more than the rate into one second, so that
// the jitter between this point and the wire (a goroutine handoff, a late
// timer) cannot either. The caller serialises wait and sent, and holds
// whatever lock guards the pacer.
type pacer struct {
	// planned is the schedule slot of the last send; next is the slot the
	// pending send (between wait and sent) was given; window holds the
	// recent send times while the rate is finite.
	planned, next time.Time
	window        []time.Time
}

// wait returns how long a request must wait before it may leave at now,
// at rate requests per second (+Inf: at once).
func (p *pacer) wait(now time.Time, rate float64) time.Duration {
	p.next = now
	if math.IsInf(rate, 1) {
		return 0
	}
	if !p.planned.IsZero() {
		p.next = later(now, p.planned.Add(time.Duration(float64(time.Second)/rate)))
	}
	ready := p.next
	p.prune(now)
	if n := int(rate); n >= 1 && len(p.window) >= n {
		ready = later(ready, p.window[len(p.window)-n].Add(time.Second+windowSlack))
	}
	return ready.Sub(now)
}

// sent records a request leaving at now, after wait, at the same rate.
func (p *pacer) sent(now time.Time, rate float64) {
	p.planned = p.next
	if math.IsInf(rate, 1) {
		p.window = p.window[:0]
		return
	}
	p.prune(now)
	p.window = append(p.window, now)
}

// prune drops the sends that left the window from the log.
func (p *pacer) prune(now time.Time) {
	i := 0
	for i < len(p.window) && now.Sub(p.window[i]) >= time.Second+windowSlack {
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
