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
// little memory, and no request pays for growing a fresh stack. A caller
// holds a pool slot (Worker.slots) while it submits; each runner exits after
// runnerIdle without work, or at close.
type requestRunners struct {
	handoff chan func() // unbuffered: straight to an idle goroutine
	done    chan struct{}
	mu      sync.Mutex // orders wg.Add against Close's wg.Wait
	closed  bool
	wg      sync.WaitGroup
}

const runnerIdle = 2 * time.Second

func newRequestRunners() *requestRunners {
	return &requestRunners{handoff: make(chan func()), done: make(chan struct{})}
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
	select {
	case p.handoff <- task:
	default:
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			task() // after Close: run it here
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.loop(task)
	}
	<-finished
	if panicked != nil {
		panic(panicked)
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
		select {
		case task = <-p.handoff:
		case <-idle.C:
			return
		case <-p.done:
			return
		}
	}
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
