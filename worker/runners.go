package worker

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// requestRunners runs API requests on reusable goroutines, the runners. A
// job waiting for an answer parks with its small stack, while the deep stack
// of an HTTP request stays grown on a runner: thousands of held jobs cost
// little memory, and no request pays for growing a fresh stack. At most max
// runners exist (--concurrency, docs/design.md#bounds): a caller
// holds a slot of the pool (Worker.pool) while it submits, but a runner that has
// just finished is not parked yet when the next slot holder submits, so the
// bound is kept here too, and such a request waits for a runner. Each
// runner exits after runnerIdle without work, or at close.
type requestRunners struct {
	handoff chan func() // unbuffered: straight to an idle runner
	done    chan struct{}
	max     int
	mu      sync.Mutex // orders wg.Add against close's wg.Wait; guards the fields below
	closed  bool
	live    int // runners started and not exited
	waiting int // submitters waiting for a runner, which keep idle runners from exiting
	wg      sync.WaitGroup
}

const runnerIdle = 2 * time.Second

func newRequestRunners(max int) *requestRunners {
	return &requestRunners{handoff: make(chan func()), done: make(chan struct{}), max: max}
}

// do runs f on a runner and returns when it has returned. A panic
// in f does not end the process from the runner: it is recovered
// there and raised again, as a *requestPanic with f's stack, in the caller,
// whose delivery it belongs to (see Worker.Handle).
func (p *requestRunners) do(f func()) {
	finished := make(chan struct{})
	var panicked *requestPanic
	task := func() {
		defer close(finished)
		defer func() {
			if v := recover(); v != nil {
				panicked = &requestPanic{value: v, stack: debug.Stack()}
			}
		}()
		f()
	}
	p.submit(task)
	<-finished
	if panicked != nil {
		panic(panicked)
	}
}

// submit hands task to an idle runner, or starts a runner while fewer than
// max exist, or waits for a runner to be idle. After close, task runs here.
func (p *requestRunners) submit(task func()) {
	select {
	case p.handoff <- task:
		return
	default:
	}
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		task()
		return
	case p.live < p.max:
		p.live++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.loop(task)
		return
	}
	p.waiting++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.waiting--
		p.mu.Unlock()
	}()
	// Every one of the max runners is busy or about to park: one takes
	// task once it is idle. None exits meanwhile (see retire).
	select {
	case p.handoff <- task:
	case <-p.done:
		task()
	}
}

// requestPanic is a panic recovered on a request goroutine.
type requestPanic struct {
	value any
	stack []byte
}

func (p *requestPanic) Error() string {
	return fmt.Sprintf("panic on a request goroutine: %v", p.value)
}

func (p *requestRunners) loop(task func()) {
	defer p.wg.Done()
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		task()
		idle.Reset(runnerIdle)
		for task = nil; task == nil; {
			select {
			case task = <-p.handoff:
			case <-idle.C:
				if p.retire() {
					return
				}
				// A submitter waits for a runner: this one stays for it.
				idle.Reset(runnerIdle)
			case <-p.done:
				p.retire()
				return
			}
		}
	}
}

// retire ends a runner unless a submitter waits for one; a waiting submitter
// then finds this runner, which has no work, at the handoff.
func (p *requestRunners) retire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting > 0 && !p.closed {
		return false
	}
	p.live--
	return true
}

// close stops the idle goroutines and waits for them.
func (p *requestRunners) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
