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
// wire (a goroutine handoff, a late timer) cannot make the API see more than
// the rate in any one-second window either.
//
// The adaptive limit reacts to the share of overload answers over the last
// two seconds, per replica and without coordination:
//
//   - The service counts as overloaded when, among at least 100 answers in
//     the window, more than 5 % are RESOURCE_EXHAUSTED or more than half are
//     UNAVAILABLE; or when every answer (at least five) is one of them, which
//     is an outage. Otherwise such answers are the API's ordinary transient
//     failures: they are retried with backoff, but do not slow everyone down
//     (an API that fails a random fifth of its requests with UNAVAILABLE is
//     not helped by sending less; RESOURCE_EXHAUSTED says "slow down" and is
//     heeded sooner). At low rates only an outage is judged: a hundred answers
//     are needed before a share means anything.
//   - While overloaded, at most five times a second, the limit is set just
//     above the rate the API actually accepted over the window: what a quota
//     admits. An outage (nothing accepted) drops it to the floor of 1/s.
//   - Every second without overload raises the limit by 10 %, or doubles it
//     once five seconds have passed without overload (slow start, to find the
//     capacity again after an outage); after two calm minutes it lifts.
//
// Google's client-side throttling (SRE book, "Handling Overload", K = 2) is
// the same idea of trusting the accepted rate, but lets the backend see up to
// K times what it accepts: up to half of what is sent may be rejected.
// opcancel's jobs wait rather than fail, and a quota storm should cost few
// 429s, so the rate itself is set just above what is accepted. The
// configured rate is never exceeded.
type throttle struct {
	// configured is the services file's rate; +Inf when unlimited.
	configured float64

	mu sync.Mutex
	// adaptive is the adaptive limit; +Inf when not throttling.
	adaptive     float64
	lastUpdate   time.Time
	lastOverload time.Time
	lastAdjust   time.Time
	// answers over the last two seconds, in 100 ms buckets.
	buckets [20]answerCounts
	head    time.Time

	// pacing: planned is the schedule slot of the last send; next is the
	// slot the pending send (between wait and sending) was given; window
	// holds the recent send times while the rate is finite.
	planned, next time.Time
	window        []time.Time
}

type answerCounts struct{ answers, exhausted, unavailable int }

const (
	overloadExhausted   = 0.05 // share of RESOURCE_EXHAUSTED answers
	overloadUnavailable = 0.50 // share of UNAVAILABLE answers
	overloadMinAnswers  = 100  // answers needed in the window to judge shares
	outageMinAnswers    = 5    // answers, all overloads, that mean an outage
	throttleHeadroom    = 1.02 // the limit sits just above the accepted rate
	throttleAdjustEvery = 200 * time.Millisecond
	throttleIncrease    = 1.10 // per second
	throttleSlowStart   = 2.0  // per second, after throttleCalm without overload
	throttleCalm        = 5 * time.Second
	throttleLift        = 2 * time.Minute
	throttleMinRate     = 1.0 // requests per second
	bucketSize          = 100 * time.Millisecond
	windowSlack         = 10 * time.Millisecond
)

// answerKind is what an API answer says about load.
type answerKind int

const (
	answerOK answerKind = iota
	answerExhausted
	answerUnavailable
)

func newThrottle(configured float64) *throttle {
	limit := math.Inf(1)
	if configured > 0 {
		limit = configured
	}
	return &throttle{configured: limit, adaptive: math.Inf(1)}
}

// state reports whether the adaptive limit holds the rate below the
// configured one, and the rate currently allowed.
func (t *throttle) state() (throttling bool, allowed float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.adaptive < t.configured, math.Min(t.adaptive, t.configured)
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

// sending records a request leaving at now, after wait.
func (t *throttle) sending(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.planned = t.next
	if math.IsInf(math.Min(t.adaptive, t.configured), 1) {
		t.window = t.window[:0]
		return
	}
	t.prune(now)
	t.window = append(t.window, now)
}

// answered records one answer of the API and returns the rate allowed now.
func (t *throttle) answered(kind answerKind, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.record(kind, now)
	return math.Min(t.adaptive, t.configured)
}

// record counts an answer and adjusts the adaptive limit; t.mu is held.
func (t *throttle) record(kind answerKind, now time.Time) {
	t.grow(now)
	t.advance(now)
	b := &t.buckets[t.bucket(now)]
	b.answers++
	switch kind {
	case answerExhausted:
		b.exhausted++
	case answerUnavailable:
		b.unavailable++
	default:
		return
	}
	var sum answerCounts
	for _, c := range t.buckets {
		sum.answers += c.answers
		sum.exhausted += c.exhausted
		sum.unavailable += c.unavailable
	}
	overloads := sum.exhausted + sum.unavailable
	outage := sum.answers >= outageMinAnswers && overloads == sum.answers
	overloaded := sum.answers >= overloadMinAnswers &&
		(float64(sum.exhausted) > overloadExhausted*float64(sum.answers) ||
			float64(sum.unavailable) > overloadUnavailable*float64(sum.answers))
	if !outage && !overloaded {
		return // the API's ordinary transient failures, or too few answers to tell
	}
	t.lastOverload = now
	if now.Sub(t.lastAdjust) < throttleAdjustEvery {
		return
	}
	t.lastAdjust = now
	accepted := float64(sum.answers-sum.exhausted-sum.unavailable) / t.span(now).Seconds()
	// Set, not just lowered: while overloaded, the accepted rate is the
	// best estimate of what the API admits, and a young window's first
	// estimate may be low.
	t.adaptive = math.Min(t.configured, math.Max(throttleMinRate, accepted*throttleHeadroom))
}

// span is how much time the window's answers cover: from the start of its
// oldest non-empty bucket to now, at least one bucket.
func (t *throttle) span(now time.Time) time.Duration {
	n := len(t.buckets)
	for age := n - 1; age > 0; age-- {
		start := t.head.Add(-time.Duration(age) * bucketSize)
		if t.buckets[t.bucket(start)].answers > 0 {
			return max(now.Sub(start), bucketSize)
		}
	}
	return max(now.Sub(t.head), bucketSize)
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
	case calm >= time.Second:
		t.adaptive *= math.Pow(throttleIncrease, dt)
	}
}

func (t *throttle) bucket(now time.Time) int {
	return int(now.UnixNano()/int64(bucketSize)) % len(t.buckets)
}

// advance clears the buckets that have aged out since the last call.
func (t *throttle) advance(now time.Time) {
	head := now.Truncate(bucketSize)
	steps := int(head.Sub(t.head) / bucketSize)
	if steps <= 0 {
		return
	}
	steps = min(steps, len(t.buckets))
	for i := range steps {
		t.buckets[t.bucket(head.Add(-time.Duration(i)*bucketSize))] = answerCounts{}
	}
	t.head = head
}
