package worker

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
)

// contractMetric is a row of the contract's metrics table: `name` | type |
// `label`, ….
var contractMetric = regexp.MustCompile("(?m)^\\| `(opcancel_[a-z_]+)` \\| ([a-z]+) \\|([^|]*)\\|")

// TestContractListsEveryMetric: the metrics table of docs/contract.md is
// what a worker exports, name, type and label names, and nothing else:
// dashboards and alerts are written from it.
func TestContractListsEveryMetric(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, m := range contractMetric.FindAllStringSubmatch(string(doc), -1) {
		var labels []string
		for l := range strings.SplitSeq(m[3], ",") {
			if l = strings.Trim(l, " `"); l != "" {
				labels = append(labels, l)
			}
		}
		want[m[1]] = series(m[2], labels)
	}

	reg, m := startedWorker(t, lro.NewTable(nil))
	// The series made on a request's answer, not at start-up.
	m.APIRequests.WithLabelValues(vault, "cancel", "OK")
	m.APIRequestDuration.WithLabelValues(vault, "cancel").Observe(1)
	m.Retries.WithLabelValues(vault, "UNAVAILABLE")
	m.BuildInfo.WithLabelValues("v", "c", "go")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "opcancel_") {
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		got[f.GetName()] = series(strings.ToLower(f.GetType().String()), labels)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("docs/contract.md's metrics (-) against the worker's (+):\n%s", diff)
	}
}

// series is a metric's type and its label names, in order.
func series(typ string, labels []string) string {
	slices.Sort(labels)
	return typ + " {" + strings.Join(labels, ", ") + "}"
}
