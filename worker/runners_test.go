package worker

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestRunnersNeverExceedTheirBound: at most max runners exist, whoever
// submits. A runner that has just finished a request is not parked yet when
// the next holder of a pool slot submits; the runners once started another
// goroutine then, so more than --concurrency could exist
// (docs/design.md#bounds). From the runners' side that is the
// same as one submitter more than there are runners: the extra request
// waits for a runner instead.
func TestRunnersNeverExceedTheirBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const bound = 2
		p := newRequestRunners(bound)
		defer p.close()
		release := make(chan struct{})
		var mu sync.Mutex
		running, most := 0, 0
		request := func() {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			<-release
			mu.Lock()
			running--
			mu.Unlock()
		}
		var callers sync.WaitGroup
		for range bound + 1 {
			callers.Go(func() { p.do(request) })
		}
		synctest.Wait()
		mu.Lock()
		got := running
		mu.Unlock()
		if got != bound {
			t.Errorf("%d requests running on %d runners at most, want %d: one waits for a runner", got, bound, bound)
		}
		close(release)
		callers.Wait()
		if most > bound {
			t.Errorf("%d requests ran at once, more than the %d runners", most, bound)
		}
	})
}

// TestIdleRunnersExit: a runner without work for runnerIdle exits, and the
// next request starts one again.
func TestIdleRunnersExit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newRequestRunners(4)
		defer p.close()
		p.do(func() {})
		synctest.Wait()
		if got := p.alive(); got != 1 {
			t.Fatalf("%d runners after one request, want 1", got)
		}
		time.Sleep(runnerIdle)
		synctest.Wait()
		if got := p.alive(); got != 0 {
			t.Errorf("%d runners after %v without work, want 0", got, runnerIdle)
		}
		ran := false
		p.do(func() { ran = true })
		if !ran {
			t.Error("a request after the runners exited did not run")
		}
	})
}

// alive is the number of runners.
func (p *requestRunners) alive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}
