package worker

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// throttle is one endpoint's adaptive send rate: lowered while the API
// answers RESOURCE_EXHAUSTED or UNAVAILABLE there, per replica and without
// coordination (the judgement, its window and its arithmetic are in
// docs/design.md#pacing-and-throttling), and never above the service's
// configured rate. It paces its endpoint's sends only while it holds the
// rate below the configured one: the service's own pacer keeps the
// configured rate, for all its endpoints together.
type throttle struct {
	// configured is the services file's rate; +Inf when unlimited.
	configured float64

	mu sync.Mutex
	// adaptive is the adaptive limit; +Inf when not throttling.
	adaptive     float64
	lastUpdate   time.Time
	lastOverload time.Time
	lastAdjust   time.Time
	// lastFailing is when the API was last judged failing: most of its
	// answers UNAVAILABLE or no answer in time (see failing).
	lastFailing time.Time
	// lastExhausted is the last RESOURCE_EXHAUSTED answer: while they keep
	// coming, even too few to judge, the quota is reached and the limit
	// holds rather than grows.
	lastExhausted time.Time
	// answers over the last minute, in 100 ms buckets: long enough to hold
	// a few answers of an API that answers nothing before the request
	// timeout (30 s by default).
	buckets [600]answerCounts
	head    time.Time

	// pace spaces the sends at the adaptive limit while it holds the rate
	// down; rate is the rate it was last asked for.
	pace pacer
	rate float64
	// holding says, without the lock, whether the adaptive limit holds
	// the rate below the configured one (as of the last answer).
	holding atomic.Bool
}

type answerCounts struct{ answers, exhausted, unavailable int }

func (c *answerCounts) add(o answerCounts) {
	c.answers += o.answers
	c.exhausted += o.exhausted
	c.unavailable += o.unavailable
}

const (
	overloadExhausted   = 0.05 // share of RESOURCE_EXHAUSTED answers
	exhaustedMinAnswers = 3    // RESOURCE_EXHAUSTED answers, at least, that the share must count
	overloadUnavailable = 0.50 // share of UNAVAILABLE answers
	overloadMinAnswers  = 20   // answers needed in the window to judge shares
	outageMinAnswers    = 5    // answers, all overloads, that mean an outage
	judgeBuckets        = 20   // the window: 2 s, longer while it has fewer than overloadMinAnswers
	failingFor          = 5 * time.Second
	throttleHeadroom    = 1.02 // the limit sits just above the accepted rate
	throttleAdjustEvery = 200 * time.Millisecond
	throttleIncrease    = 1.10 // per second
	throttleProbe       = 1.02 // per second, while a few RESOURCE_EXHAUSTED still come
	throttleSlowStart   = 2.0  // per second, after throttleCalm without overload
	throttleCalm        = 5 * time.Second
	throttleLift        = 2 * time.Minute
	throttleMinRate     = 1.0 // requests per second
	bucketSize          = 100 * time.Millisecond
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

// wait returns how long a request must wait before it may leave at now,
// for the adaptive limit. The caller serialises wait and sending per
// endpoint.
func (t *throttle) wait(now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rate = t.adaptive
	if t.rate >= t.configured {
		t.rate = math.Inf(1) // the service's pacer keeps the configured rate
	}
	return t.pace.wait(now, t.rate)
}

// sending records a request leaving at now, after wait.
func (t *throttle) sending(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pace.sent(now, t.rate)
}

// answered records one answer of the API and returns the rate allowed now.
func (t *throttle) answered(kind answerKind, now time.Time) float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.record(kind, now)
	t.holding.Store(t.adaptive < t.configured)
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
		t.lastExhausted = now
	case answerUnavailable:
		b.unavailable++
	default:
		return
	}
	sum, span := t.judged(now)
	overloads := sum.exhausted + sum.unavailable
	outage := sum.answers >= outageMinAnswers && overloads == sum.answers
	overloaded := sum.answers >= overloadMinAnswers &&
		(sum.exhausted >= exhaustedMinAnswers && float64(sum.exhausted) > overloadExhausted*float64(sum.answers) ||
			float64(sum.unavailable) > overloadUnavailable*float64(sum.answers))
	if sum.answers >= outageMinAnswers && float64(sum.unavailable) > overloadUnavailable*float64(sum.answers) {
		t.lastFailing = now
	}
	if !outage && !overloaded {
		return // the API's ordinary transient failures, or too few answers to tell
	}
	t.lastOverload = now
	if now.Sub(t.lastAdjust) < throttleAdjustEvery {
		return
	}
	t.lastAdjust = now
	accepted := float64(sum.answers-sum.exhausted-sum.unavailable) / span.Seconds()
	// Set, not just lowered: while overloaded, the accepted rate is the
	// best estimate of what the API admits, and a young window's first
	// estimate may be low.
	t.adaptive = math.Min(t.configured, math.Max(throttleMinRate, accepted*throttleHeadroom))
}

// judged sums the answers of the last two seconds, or of a longer time (up
// to the minute kept) while that holds fewer than overloadMinAnswers:
// at a low rate, as one replica's share of a fleet's quota, the judgement
// waits for enough answers rather than never judging. It returns the sum
// and how much time the answers cover: from the start of the oldest
// non-empty bucket summed to now, at least one bucket.
func (t *throttle) judged(now time.Time) (sum answerCounts, span time.Duration) {
	oldest := t.head
	for age := range len(t.buckets) {
		start := t.head.Add(-time.Duration(age) * bucketSize)
		c := t.buckets[t.bucket(start)]
		if c.answers > 0 {
			oldest = start
		}
		sum.add(c)
		if age+1 >= judgeBuckets && sum.answers >= overloadMinAnswers {
			break
		}
	}
	return sum, max(now.Sub(oldest), bucketSize)
}

// failing reports whether the API was judged failing in the last few
// seconds: most of its answers UNAVAILABLE, or no answer within the request
// timeout. Waiting in line for such a service is part of retrying it (see
// docs/design.md#retries).
func (t *throttle) failing(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.lastFailing.IsZero() && now.Sub(t.lastFailing) < failingFor
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
	quiet := min(calm, now.Sub(t.lastExhausted))
	switch {
	case calm >= throttleLift:
		t.adaptive = math.Inf(1)
	case quiet >= throttleCalm:
		t.adaptive *= math.Pow(throttleSlowStart, dt)
	case quiet >= time.Second:
		t.adaptive *= math.Pow(throttleIncrease, dt)
	case calm >= time.Second:
		t.adaptive *= math.Pow(throttleProbe, dt)
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
