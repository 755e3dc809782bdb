package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// Run receives from srcs until ctx is done: several sources are several
// subscriptions (partitions), each with its own window of held deliveries,
// an equal part of MaxOutstanding (Config.SourceWindow), sharing the one
// pool. When ctx is done, receiving stops, held jobs get until the shutdown
// timeout to reach an outcome, and the rest end as interrupted (nacked);
// meanwhile their polls no longer give way to the jobs still starting
// (docs/design.md#new-jobs-before-polls).
// The same happens when a source stops for good (the context it hands the
// handler ends without ctx: the subscription was deleted, or permission
// revoked): every source stops, and held jobs whose messages can no longer
// be settled get no more than the shutdown timeout either. Run returns when
// every source has returned, which is after every delivery was settled,
// with the first source's error.
func (w *Worker) Run(ctx context.Context, srcs ...Source) error {
	if len(srcs) == 0 {
		return errors.New("worker: no source")
	}
	jobs, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	received := make(chan struct{})
	stopping, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		select {
		case <-received:
			return
		case <-stopping.Done():
		}
		w.drainOnce.Do(func() { close(w.draining) })
		t := time.NewTimer(w.cfg.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-received:
		case <-t.C:
			cancelJobs()
		}
	})
	defer close(received)
	// The sources' context ends when shutdown begins, or when one of them
	// fails; jobs keep theirs. A handler's context ending first means its
	// source is stopping.
	g, gctx := errgroup.WithContext(stopping)
	window := int64(w.cfg.SourceWindow(len(srcs)))
	for _, src := range srcs {
		held := semaphore.NewWeighted(window)
		var watch sync.Once
		g.Go(func() error {
			return src.Receive(gctx, func(hctx context.Context, d Delivery) {
				watch.Do(func() { context.AfterFunc(hctx, stop) })
				w.handle(w.withDeliveryTrace(jobs, hctx), held, d)
			})
		})
	}
	return g.Wait()
}
