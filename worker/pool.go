package worker

import (
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// requestPool runs API requests on reusable goroutines. A job waiting for an
// answer parks with its small stack, while the deep stack of an HTTP request
// stays grown on a pool goroutine: thousands of held jobs cost little memory,
// and no request pays for growing a fresh stack. There are at most
// Config.Concurrency pool goroutines (a caller holds a pool slot while it
// submits); each exits after poolIdle without work, or at Close.
type requestPool struct {
	handoff chan func() // unbuffered: straight to an idle goroutine
	done    chan struct{}
	mu      sync.Mutex // orders wg.Add against Close's wg.Wait
	closed  bool
	wg      sync.WaitGroup
}

const poolIdle = 2 * time.Second

func newRequestPool() *requestPool {
	return &requestPool{handoff: make(chan func()), done: make(chan struct{})}
}

// do runs f on a pool goroutine and returns when it has returned. A panic
// in f does not end the process from the pool goroutine: it is recovered
// there and raised again, as a *requestPanic with f's stack, in the caller,
// whose delivery it belongs to (see Worker.Handle).
func (p *requestPool) do(f func()) {
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

func (p *requestPool) loop(task func()) {
	defer p.wg.Done()
	idle := time.NewTimer(poolIdle)
	defer idle.Stop()
	for {
		task()
		idle.Reset(poolIdle)
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
func (p *requestPool) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
