package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestUnpacedOutstandingRatio: the autoscaler's gauge is exported from
// start-up, and is the jobs held less those waiting behind their service's
// rate, against --max-outstanding.
func TestUnpacedOutstandingRatio(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := New(reg)
	const name = "opcancel_unpaced_outstanding_ratio"
	if err := testutil.GatherAndCompare(reg, strings.NewReader("# HELP "+name+" "+helpOf(t, reg, name)+"\n# TYPE "+name+" gauge\n"+name+" 0\n"), name); err != nil {
		t.Errorf("at start-up: %v", err)
	}
	m.MaxOutstanding.Set(20)
	m.JobsInFlight.Set(10)
	m.APIRequestsWaitingForRate.WithLabelValues("a.googleapis.com").Set(3)
	m.APIRequestsWaitingForRate.WithLabelValues("b.googleapis.com").Set(2)
	if got, want := testutil.ToFloat64(m.UnpacedOutstanding), 0.25; got != want {
		t.Errorf("(10 held - 5 waiting for the rate) / 20 = %v, want %v", got, want)
	}
	m.APIRequestsWaitingForRate.WithLabelValues("a.googleapis.com").Set(12)
	if got := testutil.ToFloat64(m.UnpacedOutstanding); got != 0 {
		t.Errorf("more waiting for the rate than held (gauges read a moment apart) = %v, want 0", got)
	}
}

func helpOf(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetHelp()
		}
	}
	t.Fatalf("%s is not exported", name)
	return ""
}
