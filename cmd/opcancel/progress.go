package main

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress is a progress bar on a terminal; the zero value shows nothing.
// submit, submit --wait and replay draw it on stderr.
type progress struct{ bar *progressbar.ProgressBar }

// newProgress returns a bar of max steps (-1: unknown) described by what,
// drawn on w when show is set.
func newProgress(show bool, w io.Writer, max int, what string) progress {
	if !show {
		return progress{}
	}
	return progress{progressbar.NewOptions(max, progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what), progressbar.OptionShowCount(),
		progressbar.OptionShowIts(), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish())}
}

func (p progress) add() {
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// set moves the bar to n steps done.
func (p progress) set(n int) {
	if p.bar != nil {
		p.bar.Set(n)
	}
}

// setMax changes the number of steps: a batch followed while it is
// published grows.
func (p progress) setMax(max int) {
	if p.bar != nil && int64(max) != p.bar.GetMax64() {
		p.bar.ChangeMax(max)
	}
}

// describe replaces the bar's description.
func (p progress) describe(what string) {
	if p.bar != nil {
		p.bar.Describe(what)
	}
}

func (p progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
