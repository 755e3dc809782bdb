package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDemoTableEqualsTheCounters runs the demo with a small count, keeps its
// /metrics up, and checks that the printed table is what /metrics says.
func TestDemoTableEqualsTheCounters(t *testing.T) {
	t.Parallel()
	out, errb := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"demo", "--count=40", "--listen=127.0.0.1:0"}, getenvFrom(nil), strings.NewReader(""), out, errb)
	}()
	// The demo bounds its own run (--timeout) and then ends with an error.
	var addr string
	waitFor(t, "the demo's table", untilDeadline(t), func() bool {
		select {
		case err := <-errc:
			t.Fatalf("demo ended early: %v\n%s\n%s", err, out, errb)
		default:
		}
		i := strings.Index(out.String(), "metrics stay up at http://")
		if i < 0 {
			return false
		}
		addr = strings.TrimSuffix(strings.Fields(out.String()[i+len("metrics stay up at http://"):])[0], "/metrics;")
		return true
	})
	printed := map[string]float64{}
	inTable := false
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) == 4 && f[0] == "service":
			inTable = true
		case inTable && len(f) == 4:
			n, err := strconv.ParseFloat(f[2], 64)
			if err != nil {
				t.Fatalf("table line %q", l)
			}
			if f[2] != f[3] {
				t.Errorf("table line %q: count differs from expected", l)
			}
			printed[f[0]+" "+f[1]] = n
		case inTable:
			inTable = false
		}
	}
	counters, err := scrapeOutcomes(context.Background(), "http://"+addr+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counters, printed); diff != "" {
		t.Errorf("printed table differs from /metrics (-metrics +printed):\n%s\n%s", diff, out)
	}
	total := 0.0
	for _, v := range printed {
		total += v
	}
	if total != 40 {
		t.Errorf("table totals %v outcomes, want 40", total)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("demo exit: %v (code %d)", err, exitCode(err))
	}
}
