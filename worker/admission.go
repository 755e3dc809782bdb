package worker

import (
	"context"
	"math"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"

	"opcancel/lro"
)

// Floods wait their turn (docs/design.md#floods-wait-their-turn): once
// routed, a job waits for a place in the start line of the endpoint its
// requests go to, and holds it until its first request has left. The jobs
// behind the line hold their message and a parked goroutine, nothing else;
// they keep no pool slot, no timer and no place in the service's gate, so
// the polls of the jobs already started never wait behind a flood's
// cancels, the flood's jobs end (and free their messages) at the pace of
// its rate, and another service's jobs, routed to another line, start at
// once.

// startLine admits one endpoint's jobs to their first request, in order of
// arrival.
type startLine struct {
	// places are the jobs that may wait for their first request at once;
	// semaphore.Weighted serves its waiters in order.
	places *semaphore.Weighted
	// queued is the service's opcancel_jobs_queued series.
	queued prometheus.Gauge
}

// startLimit is how many of a service endpoint's jobs may wait for their
// first request at once: a second of the service's rate (at least one), or,
// without a rate, the pool (concurrency). That keeps the rate, or the pool,
// busy, while a request of a job already started waits behind at most that
// many first requests.
func startLimit(svc *lro.Service, concurrency int) int64 {
	if svc.Rate > 0 {
		return int64(min(concurrency, max(1, int(math.Ceil(svc.Rate)))))
	}
	return int64(concurrency)
}

// lineFor returns the start line of the endpoint that j's requests go to;
// endpoints are the configured and catalogued ones, a bounded set.
func (w *Worker) lineFor(j *job) *startLine {
	endpoint, _ := j.svc.EndpointOf(j.req.Name) // routed: it has one
	key := j.svc.Host + " " + endpoint
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.lines[key]
	if l == nil {
		l = &startLine{
			places: semaphore.NewWeighted(startLimit(j.svc, w.cfg.Concurrency)),
			queued: w.metrics.JobsQueued.WithLabelValues(j.svc.Host),
		}
		w.lines[key] = l
	}
	return l
}

// admit waits for j's place in its start line, counted in
// opcancel_jobs_queued while it waits. The caller gives the place back with
// started.
func (w *Worker) admit(ctx context.Context, j *job) error {
	l := w.lineFor(j)
	if !l.places.TryAcquire(1) {
		l.queued.Inc()
		err := l.places.Acquire(ctx, 1)
		l.queued.Dec()
		if err != nil {
			return err
		}
	}
	j.line = l
	return nil
}

// started gives j's place in its start line back, once: its first request
// has left, or it ends without one.
func (w *Worker) started(j *job) {
	if j.line != nil {
		j.line.places.Release(1)
		j.line = nil
	}
}
