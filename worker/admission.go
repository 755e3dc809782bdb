package worker

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"opcancel/lro"
)

// startLine admits one endpoint's jobs to their first request, in order of
// arrival. A job holds its place until its first request has left; the
// jobs behind a full line hold their message and a parked goroutine only:
// no pool slot, no timer, no place in the endpoint's gate
// (docs/design.md#floods-wait-their-turn).
type startLine struct {
	// places are the jobs that may wait for their first request at once;
	// semaphore.Weighted serves its waiters in order.
	places *semaphore.Weighted
	// queued is the endpoint's opcancel_jobs_queued series.
	queued prometheus.Gauge
}

// startLimit is how many of a service endpoint's jobs may wait for their
// first request at once: a second of the service's rate (at least one), or,
// without a rate, the pool (concurrency). That keeps the rate, or the pool,
// busy, while a retry or first poll of a job already started waits behind
// at most that many first requests. A later poll gives way as well to the
// first requests that line up within its yield: up to its poll interval
// (at most PollMax), never past its verify deadline (see turn). Every
// endpoint of the service has a line of its own: the rate is the
// service's, shared, but a location that hangs keeps its jobs in its own
// line.
func startLimit(svc *lro.Service, concurrency int) int64 {
	if svc.Rate > 0 {
		return int64(min(concurrency, max(1, int(math.Ceil(svc.Rate)))))
	}
	return int64(concurrency)
}

// newStartLine returns the start line of svc's endpoint whose series of
// opcancel_jobs_queued is queued.
func newStartLine(svc *lro.Service, concurrency int, queued prometheus.Gauge) *startLine {
	return &startLine{places: semaphore.NewWeighted(startLimit(svc, concurrency)), queued: queued}
}

// admit waits for j's place in its start line, counted in
// opcancel_jobs_queued while it waits. The caller gives the place back with
// started. The wait is part of the wait for j's first request: while the
// endpoint answers nothing, it spends j's retry budget (see
// Worker.retrying), so that a hung endpoint's backlog ends when the budget
// does, not a start line's worth per budget.
func (w *Worker) admit(ctx context.Context, j *job) error {
	// The line of the bulkhead that j's requests go to (route set it): the
	// endpoints are the configured and catalogued ones, a bounded set.
	l := j.ep.start
	j.lined = time.Now()
	if !l.places.TryAcquire(1) {
		l.queued.Inc()
		err := l.places.Acquire(ctx, 1)
		l.queued.Dec()
		if err != nil {
			return err
		}
	}
	j.startLine = l
	return nil
}

// started gives j's place in its start line back, once: its first request
// has left, or it ends without one.
func (w *Worker) started(j *job) {
	if j.startLine != nil {
		j.startLine.places.Release(1)
		j.startLine = nil
	}
}
