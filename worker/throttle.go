package worker

import (
	"math"
	"sync"
	"time"
)

// throttle is one service's send rate: the configured rate, lowered
// adaptively while the API answers RESOURCE_EXHAUSTED or UNAVAILABLE.
//
// Sends are paced on a schedule 1/rate apart (so the average rate is the
// rate, even though timers fire late), and a log of the recent sends holds
// any send that would put more than the rate into one second. The log spans
// a second plus windowSlack, so that the jitter between this point and the
// wire (a goroutine handoff, a late timer) cannot make the API see more
// than the rate in any one-second window either.
//
// The rate is AIMD congestion control, as TCP's, per replica and without
// coordination (each replica converges to a share of what the
// API admits):
//
//   - Decrease: an overload answer to a request sent at the current limit
//     lowers the limit by 10 %. Answers to requests sent before the last
//     decrease are part of the same congestion event and do not lower it
//     again, so a burst of 429s is one decrease, not a collapse. The first
//     decrease starts from the rate actually sent over the last second.
//   - Increase: 10 % per second while answers succeed; doubling per second
//     (slow start) once no overload has been seen for a second, so the rate
//     finds the API's capacity quickly at start and after an outage.
//   - After two minutes without an overload the throttle lifts entirely.
//
// Google's client-side throttling (SRE book, "Handling Overload", K = 2)
// rejects requests locally and lets the backend see up to K times what it
// accepts, so up to half of what is sent may be rejected; opcancel's jobs
// must wait rather than fail, and a quota storm should cost few 429s, so the
// rate itself is adapted. The configured rate is never exceeded.
type throttle struct {
	// configured is the services file's rate; +Inf when unlimited.
	configured float64

	mu sync.Mutex
	// planned is the schedule slot of the last send; next is the slot the
	// pending send (between wait and sending) was given.
	planned, next time.Time
	// window holds the times of the sends of the last second, oldest first,
	// while the rate is finite.
	window []time.Time
	// adaptive is the adaptive limit; +Inf when not throttling.
	adaptive float64
	// epoch counts decreases; a request remembers the epoch it was sent in.
	epoch        uint64
	lastUpdate   time.Time
	lastOverload time.Time
	// sent counts requests sent in the last second, in 100 ms buckets.
	sent     [10]int
	sentHead time.Time
}

const (
	throttleDecrease   = 0.90
	throttleIncrease   = 1.10 // per second
	throttleSlowStart  = 2.0  // per second, after throttleCalm without overload
	throttleCalm       = time.Second
	throttleLift       = 2 * time.Minute
	throttleMinRate    = 1.0 // requests per second
	throttleBucketSize = 100 * time.Millisecond
	windowSlack        = 10 * time.Millisecond
)

func newThrottle(configured float64) *throttle {
	limit := math.Inf(1)
	if configured > 0 {
		limit = configured
	}
	return &throttle{configured: limit, adaptive: math.Inf(1)}
}

// wait returns how long a request must wait before it may leave at now.
// The caller serialises wait and sending per service.
func (t *throttle) wait(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.next = now
	allowed := math.Min(t.adaptive, t.configured)
	if math.IsInf(allowed, 1) {
		return 0
	}
	if !t.planned.IsZero() {
		t.next = later(now, t.planned.Add(time.Duration(float64(time.Second)/allowed)))
	}
	ready := t.next
	t.prune(now)
	if n := int(allowed); n >= 1 && len(t.window) >= n {
		ready = later(ready, t.window[len(t.window)-n].Add(time.Second+windowSlack))
	}
	return ready.Sub(now)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// prune drops the sends that left the window from the log.
func (t *throttle) prune(now time.Time) {
	i := 0
	for i < len(t.window) && now.Sub(t.window[i]) >= time.Second+windowSlack {
		i++
	}
	t.window = t.window[i:]
}

// state reports whether the adaptive limit holds the rate below the
// configured one, and the rate currently allowed.
func (t *throttle) state() (throttling bool, allowed float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.adaptive < t.configured, math.Min(t.adaptive, t.configured)
}

// sending records a request leaving at now, after wait, and returns its epoch.
func (t *throttle) sending(now time.Time) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.planned = t.next
	if math.IsInf(math.Min(t.adaptive, t.configured), 1) {
		t.window = t.window[:0]
	} else {
		t.prune(now)
		t.window = append(t.window, now)
	}
	t.advance(now)
	t.sent[t.bucket(now)]++
	return t.epoch
}

// answered records the answer to a request sent in epoch: overload for
// RESOURCE_EXHAUSTED and UNAVAILABLE.
func (t *throttle) answered(epoch uint64, overload bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.grow(now)
	if !overload {
		return
	}
	t.lastOverload = now
	if epoch != t.epoch {
		return // this congestion event was already answered
	}
	if math.IsInf(t.adaptive, 1) {
		t.adaptive = math.Min(t.configured, float64(t.sentLastSecond(now)))
	}
	t.adaptive = math.Max(throttleMinRate, t.adaptive*throttleDecrease)
	t.epoch++
}

// grow raises the adaptive limit for the time since the last update, or
// lifts it after a long calm.
func (t *throttle) grow(now time.Time) {
	dt := now.Sub(t.lastUpdate).Seconds()
	t.lastUpdate = now
	if math.IsInf(t.adaptive, 1) || dt <= 0 {
		return
	}
	calm := now.Sub(t.lastOverload)
	switch {
	case calm >= throttleLift:
		t.adaptive = math.Inf(1)
	case calm >= throttleCalm:
		t.adaptive *= math.Pow(throttleSlowStart, dt)
	default:
		t.adaptive *= math.Pow(throttleIncrease, dt)
	}
}

func (t *throttle) sentLastSecond(now time.Time) int {
	t.advance(now)
	n := 0
	for _, c := range t.sent {
		n += c
	}
	return n
}

func (t *throttle) bucket(now time.Time) int {
	return int(now.UnixNano()/int64(throttleBucketSize)) % len(t.sent)
}

// advance clears the buckets that have aged out since the last call.
func (t *throttle) advance(now time.Time) {
	head := now.Truncate(throttleBucketSize)
	steps := int(head.Sub(t.sentHead) / throttleBucketSize)
	if steps <= 0 {
		return
	}
	if steps > len(t.sent) {
		steps = len(t.sent)
	}
	for i := range steps {
		t.sent[t.bucket(head.Add(-time.Duration(i)*throttleBucketSize))] = 0
	}
	t.sentHead = head
}
