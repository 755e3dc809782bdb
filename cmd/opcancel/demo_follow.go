package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
