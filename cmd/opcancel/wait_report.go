package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"opcancel/lro"
	"opcancel/worker"
)

// batchReport is the end of `submit --wait` (see
// docs/contract.md#opcancel-submit): the outcomes of the messages, and the
// names that did not end cancelled or completed.
type batchReport struct {
	Batch            string         `json:"batch"`
	Published        int            `json:"published"`
	PublishedEarlier int            `json:"publishedEarlier"`
	Invalid          int            `json:"invalid"`
	Failed           int            `json:"failed"`
	Outcomes         map[string]int `json:"outcomes"`
	NoOutcome        int            `json:"noOutcome"`
	TimedOut         bool           `json:"timedOut"`
	Names            []nameResult   `json:"names"`
	// messages is how many messages the batch has: those published by
	// the run and, with a journal, by earlier runs.
	messages int
	// running counts the names whose outcome leaves the operation running
	// or unknown (not Outcome.Stopped), or that have none.
	running int
}

// nameResult is the outcome of a name: that of its first message that did
// not end duplicate, else duplicate; empty while none of its messages has
// one. A name submitted twice is one name.
type nameResult struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	Outcome string `json:"outcome"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// newBatchReport makes the report of w after publishing (sum).
func newBatchReport(w *watch, sum submitSummary, timedOut bool) *batchReport {
	r := &batchReport{Batch: sum.batch, Published: sum.published, PublishedEarlier: sum.earlier, Invalid: sum.invalid,
		Failed: sum.failed, Outcomes: map[string]int{}, TimedOut: timedOut, Names: []nameResult{}}
	byName := map[string]*nameResult{}
	var names []*nameResult
	msgs := w.results()
	r.messages = len(msgs)
	for _, m := range msgs {
		key := nameKey(m.service, m.name)
		n, ok := byName[key]
		if !ok {
			n = &nameResult{Service: m.service, Name: m.name}
			byName[key] = n
			names = append(names, n)
		}
		if m.event == nil {
			r.NoOutcome++
			continue
		}
		r.Outcomes[string(m.event.Outcome)]++
		if n.Outcome == "" || n.Outcome == string(worker.Duplicate) {
			n.Outcome, n.Code, n.Message = string(m.event.Outcome), m.event.Code, m.event.Message
		}
	}
	for _, n := range names {
		o := worker.Outcome(n.Outcome)
		if !o.Stopped() {
			r.running++
		}
		if o != worker.Cancelled && o != worker.Completed {
			r.Names = append(r.Names, *n)
		}
	}
	order := map[string]int{"": len(worker.Outcomes())}
	for i, o := range worker.Outcomes() {
		order[string(o)] = i
	}
	// The messages come in no set order (the manifest's parts, read back
	// from Pub/Sub): names are sorted, so that every report of a batch
	// lists them alike.
	slices.SortFunc(r.Names, func(a, b nameResult) int {
		return cmp.Or(order[a.Outcome]-order[b.Outcome], strings.Compare(a.Service, b.Service), strings.Compare(a.Name, b.Name))
	})
	return r
}

// exitError is the exit status of the report: nil when every name ended
// in an outcome that stops its operation.
func (r *batchReport) exitError() error {
	switch {
	case r.TimedOut:
		return exitError{4, fmt.Errorf("%d of %d requests had no outcome by --wait-timeout", r.NoOutcome, r.messages)}
	case r.running > 0:
		return exitError{3, fmt.Errorf("%d names did not end in an outcome that stops the operation (cancelled, completed, failed, done_no_result, not_found)", r.running)}
	}
	return nil
}

// maxListed is how many names the text report lists without --verbose.
const maxListed = 20

// writeText writes the report as tables: outcomes, then names.
func (r *batchReport) writeText(w io.Writer, verbose bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "outcome\trequests\t")
	for _, o := range worker.Outcomes() {
		if n := r.Outcomes[string(o)]; n > 0 {
			fmt.Fprintf(tw, "%s\t%d\t\n", o, n)
		}
	}
	if r.NoOutcome > 0 {
		fmt.Fprintf(tw, "(no outcome)\t%d\t\n", r.NoOutcome)
	}
	fmt.Fprintf(tw, "total\t%d\t\n", r.messages)
	tw.Flush()
	if len(r.Names) == 0 {
		return
	}
	listed := r.Names
	fmt.Fprintf(w, "\n%d names did not end cancelled or completed", len(r.Names))
	if !verbose && len(listed) > maxListed {
		listed = listed[:maxListed]
		fmt.Fprintf(w, " (the first %d; --verbose lists all)", maxListed)
	}
	fmt.Fprintln(w, ":")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\tname\toutcome\tcode\tmessage\t")
	for _, n := range listed {
		msg := n.Message
		if !verbose {
			msg = lro.Clip(msg, 120)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", escape(n.Service), escape(n.Name), escape(orNone(n.Outcome)), escape(n.Code), escape(msg))
	}
	tw.Flush()
}

func orNone(outcome string) string {
	if outcome == "" {
		return "(none)"
	}
	return outcome
}
