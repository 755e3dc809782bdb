package worker

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"opcancel/lro"
	"opcancel/metrics"
)

// serviceState is what one service's endpoints share: the configured rate,
// the maxConcurrency cap and the record of misdirected answers. Everything
// that judges an API's health is per endpoint (see endpoint), so that one
// location's outage never slows another location of the same API.
type serviceState struct {
	host string
	// rate is the configured rate, +Inf when unlimited; turn serialises the
	// pacing of the service's sends at it, whichever endpoint they go to,
	// and mu guards pace, which a request leaving updates.
	rate float64
	turn chan struct{}
	mu   sync.Mutex
	pace pacer
	// limit caps the service's requests in flight: its maxConcurrency
	// (capped), or the pool (docs/design.md#sharing-the-pool). inFlight,
	// and cutting, the requests cut to make room under the cap and not
	// ended yet, are guarded by the pool's lock.
	limit             int
	capped            bool
	inFlight, cutting int
	// waitingForRate counts the service's requests that hold a slot while
	// they wait for its rate; guarded by the pool's lock. While one does, no
	// other endpoint of the service is given a slot (pool.admits): a flood
	// over many locations would otherwise hold one idle slot per location.
	waitingForRate int
	// rateDelayed and rateWait are the service's series of
	// opcancel_rate_limit_delayed_requests_total and
	// opcancel_rate_limit_wait_seconds_total.
	rateDelayed, rateWait prometheus.Counter
	// endpoints are the service's bulkheads, by endpoint host.
	endpoints map[string]*endpoint
	// misdirection records the answers that are not recognisably Google's.
	misdirection misdirection
}

// endpoint is one endpoint of one service (the global one, or a location's):
// the bulkhead that its throttle, its concurrency limit and the judgement
// of whether it is failing follow (docs/design.md#bulkheads-per-endpoint).
type endpoint struct {
	svc  *serviceState
	host string
	// turn serialises taking a slot and pacing, so that the endpoint's sends
	// leave in the turn's order; at most one request per endpoint waits for
	// the pool.
	turn turn
	// throttle holds the endpoint's rate down while its API is overloaded.
	throttle *throttle
	// line counts the requests waiting to be sent.
	line line
	// start is the line of jobs waiting for their first request
	// (admission.go).
	start *startLine

	// The endpoint's series.
	allowed, inFlightGauge, limitGauge   prometheus.Gauge
	slotWait, reclaimed                  prometheus.Counter
	throttleDelayed, throttleWaitSeconds prometheus.Counter

	// Guarded by the pool's lock (see pool.go, limit.go, reclaim.go).
	inFlight int
	limit    limiter
	flights  flightList
	// waiter is the request at the pool (asking, the turn holder's, which
	// is the only one that asks), nil if none; lined counts those in line
	// before it, pacing says whether the turn holder waits for its pace.
	waiter *waiter
	asking waiter
	lined  int
	pacing bool
	// late counts the flights past the endpoint's overdue threshold,
	// cuttable those of them not cut yet.
	late, cuttable int
	// active is the endpoint's index in pool.active, -1 when it holds no
	// slot and has no request in line for one; share is its fair share, as
	// reclaim last set it.
	active int
	share  float64
	// overdueTimer fires when the oldest flight not yet late becomes so.
	overdueTimer *time.Timer
	timerArmed   bool
	// lastAnswer is when the endpoint last answered a request; lastSilent
	// when a request of its last became overdue, or ended unanswered; both
	// in Unix nanoseconds, written under the pool's lock, read without.
	lastAnswer, lastSilent atomic.Int64
}

// newServiceState returns svc's state, with a bulkhead per endpoint host,
// its concurrency cap within a pool of concurrency slots and its throttles
// at the configured rate, and creates the service's series, so that they
// exist from start-up.
func newServiceState(svc *lro.Service, concurrency int, m *metrics.Metrics) *serviceState {
	st := &serviceState{
		host:        svc.Host,
		rate:        math.Inf(1),
		turn:        make(chan struct{}, 1),
		limit:       concurrency,
		rateDelayed: m.RateLimitDelayed.WithLabelValues(svc.Host),
		rateWait:    m.RateLimitWait.WithLabelValues(svc.Host),
		endpoints:   map[string]*endpoint{},
	}
	if svc.Rate > 0 {
		st.rate = svc.Rate
	}
	if svc.MaxConcurrency > 0 && svc.MaxConcurrency < concurrency {
		st.limit, st.capped = svc.MaxConcurrency, true
	}
	m.ServiceMaxConcurrency.WithLabelValues(svc.Host).Set(float64(st.limit))
	m.MisdirectedRequests.WithLabelValues(svc.Host)
	for _, host := range svc.EndpointHosts() {
		st.endpoints[host] = newEndpoint(st, svc, host, concurrency, m)
	}
	return st
}

func newEndpoint(st *serviceState, svc *lro.Service, host string, concurrency int, m *metrics.Metrics) *endpoint {
	l := []string{svc.Host, host}
	ep := &endpoint{
		svc:                 st,
		host:                host,
		throttle:            newThrottle(svc.Rate),
		allowed:             m.ThrottleAllowedRate.WithLabelValues(l...),
		inFlightGauge:       m.ServiceRequestsInFlight.WithLabelValues(l...),
		limitGauge:          m.EndpointConcurrencyLimit.WithLabelValues(l...),
		slotWait:            m.ServiceConcurrencyWait.WithLabelValues(l...),
		reclaimed:           m.RequestsReclaimed.WithLabelValues(l...),
		throttleDelayed:     m.ThrottleDelayed.WithLabelValues(l...),
		throttleWaitSeconds: m.ThrottleWait.WithLabelValues(l...),
		line:                line{queued: m.APIRequestsQueued.WithLabelValues(l...), forRate: m.APIRequestsWaitingForRate.WithLabelValues(l...)},
		start:               newStartLine(svc, concurrency, m.JobsQueued.WithLabelValues(l...)),
		limit:               newLimiter(st.limit),
		active:              -1,
	}
	ep.line.set()
	_, allowed := ep.throttle.state()
	ep.allowed.Set(allowed)
	ep.limitGauge.Set(ep.limit.limit)
	return ep
}

// endpointOf returns the bulkhead of the endpoint j's requests go to.
func (w *Worker) endpointOf(svc *lro.Service, name string) *endpoint {
	st := w.services[svc.Host]
	if host, err := svc.EndpointOf(name); err == nil {
		if ep := st.endpoints[host]; ep != nil {
			return ep
		}
	}
	// The name was routed to svc, so its endpoint is one of svc's; the
	// global endpoint is the safe answer should a table ever disagree.
	return st.endpoints[svc.Endpoint.Host]
}

// failing reports whether the endpoint is failing: most of its answers of
// the last seconds UNAVAILABLE or timed out, or no answer since a request
// of its became overdue or ended unanswered. Waiting in line for such an
// endpoint is part of retrying it (see docs/design.md#retries).
func (ep *endpoint) failing(now time.Time) bool {
	return ep.throttle.failing(now) || ep.stalled()
}

// spent reports whether a request that waits in line for ep with a retry
// budget ending at giveUp has spent it: giveUp has passed and ep is
// failing.
func (ep *endpoint) spent(giveUp time.Time) bool {
	now := time.Now()
	return !now.Before(giveUp) && ep.failing(now)
}

// stopTimers stops the endpoints' overdue timers.
func (w *Worker) stopTimers() {
	w.pool.mu.Lock()
	defer w.pool.mu.Unlock()
	for _, st := range w.services {
		for _, ep := range st.endpoints {
			if ep.overdueTimer != nil {
				ep.overdueTimer.Stop()
				ep.timerArmed = false
			}
		}
	}
}
