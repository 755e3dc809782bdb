package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// printDemoTable prints the outcomes per service, with the expected counts
// when given, and reports whether they match.
func printDemoTable(w io.Writer, got, expected map[string]float64) bool {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range expected {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\toutcome\tcount\texpected\t")
	ok := true
	var total, totalExp float64
	for _, k := range sorted {
		service, outcome, _ := strings.Cut(k, " ")
		exp := "-"
		if expected != nil {
			exp = strconv.FormatFloat(expected[k], 'f', 0, 64)
			ok = ok && got[k] == expected[k]
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t\n", escape(service), escape(outcome), got[k], exp)
		total += got[k]
		totalExp += expected[k]
	}
	fmt.Fprintf(tw, "total\t\t%.0f\t%.0f\t\n", total, totalExp)
	tw.Flush()
	if expected != nil {
		if ok {
			fmt.Fprintln(w, "every outcome is as the fake API was scripted (counts read from the result events)")
		} else {
			fmt.Fprintln(w, "MISMATCH: some outcomes differ from the script")
		}
	}
	return ok
}

// outcomes publishes the names and the malformed messages and returns
// their outcomes by "service outcome", as submit --wait follows them: from
// the result events.
func (c *demoCmd) outcomes(ctx context.Context, e *env, world *demoWorld, names []givenName, invalid []string) (map[string]float64, error) {
	watch := newWatch(newBatchID(time.Now()))
	events, err := openBatchEvents(ctx, world.qc, demoProject, []batchTopic{{flag: "--results-topic", name: world.results}}, time.Time{}, watch, e.stderr)
	if err != nil {
		return nil, err
	}
	defer events.close()
	if err := world.publish(ctx, e, names, invalid, watch); err != nil {
		return nil, err
	}
	err = awaitOutcomes(ctx, watch, events.failed, c.Timeout, e.stderr, isTerminal(e.stderr))
	got := outcomesByService(watch)
	if errors.Is(err, errWaitTimeout) {
		printDemoTable(e.stdout, got, nil)
		st := watch.status()
		err = fmt.Errorf("demo: only %d of %d outcomes after %s", st.ended, st.total, c.Timeout)
	}
	return got, err
}

// outcomesByService counts the outcomes of w by "service outcome".
func outcomesByService(w *watch) map[string]float64 {
	got := map[string]float64{}
	for _, m := range w.results() {
		if m.event != nil {
			got[m.event.Service+" "+string(m.event.Outcome)]++
		}
	}
	return got
}
