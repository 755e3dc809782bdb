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

// TestQueuedJobsOfAPacedServiceAreNotCounted: jobs that wait to start
// behind a service's requests waiting for its rate wait for the rate too;
// jobs queued behind a service that waits for capacity count.
func TestQueuedJobsOfAPacedServiceAreNotCounted(t *testing.T) {
	t.Parallel()
	m := New(prometheus.NewRegistry())
	m.MaxOutstanding.Set(10000)
	// A flood: 5,000 held, 20 requests waiting for the rate, 4,970 jobs
	// behind them; 10 jobs of another service being worked on.
	m.JobsInFlight.Set(5010)
	m.APIRequestsWaitingForRate.WithLabelValues("flood.googleapis.com").Set(20)
	m.JobsQueued.WithLabelValues("flood.googleapis.com").Set(4970)
	if got, want := testutil.ToFloat64(m.UnpacedOutstanding), 0.002; got != want {
		t.Errorf("(5,010 held - 20 requests and 4,970 jobs waiting for the rate) / 10,000 = %v, want %v", got, want)
	}
	// A service without requests waiting for a rate: its queued jobs wait
	// for capacity, which another worker adds.
	m.APIRequestsWaitingForRate.WithLabelValues("flood.googleapis.com").Set(0)
	if got, want := testutil.ToFloat64(m.UnpacedOutstanding), 0.501; got != want {
		t.Errorf("nothing waiting for a rate: %v, want %v", got, want)
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
