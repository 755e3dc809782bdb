package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminServer(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.Jobs.WithLabelValues("vault.googleapis.com", "cancelled").Inc()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	s := NewServer(ln, reg, ready.Load)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- s.Run(ctx) }()
	base := "http://" + s.Addr().String()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("/readyz before ready = %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
	ready.Store(false)
	if code, _ := get(t, base+"/readyz"); code != 503 {
		t.Errorf("/readyz after shutdown began = %d, want 503", code)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`opcancel_jobs_total{outcome="cancelled",service="vault.googleapis.com"} 1`,
		`opcancel_jobs_in_flight 0`,
		`opcancel_api_requests_in_flight 0`,
		`opcancel_result_publish_failures_total 0`,
		`go_goroutines`,
		`process_resident_memory_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// TestMetricsLint: every collector, with a series of each created, passes
// Prometheus's metric lint (names, units, help, counter suffixes).
func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	touchEveryVec(t, m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	opcancel := 0
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "opcancel_") {
			opcancel++
		}
	}
	if want := reflect.TypeOf(*m).NumField(); opcancel != want {
		t.Errorf("%d opcancel_ families gathered, want one per field of Metrics (%d)", opcancel, want)
	}
}

// touchEveryVec creates one series in every labelled collector of m, so
// that every family is gathered.
func touchEveryVec(t *testing.T, m *Metrics) {
	t.Helper()
	v := reflect.ValueOf(m).Elem()
	for i := range v.NumField() {
		get := v.Field(i).MethodByName("GetMetricWithLabelValues")
		if !get.IsValid() {
			continue
		}
		created := false
		for n := 1; n <= 4 && !created; n++ {
			labels := make([]reflect.Value, n)
			for j := range labels {
				labels[j] = reflect.ValueOf("x")
			}
			created = get.Call(labels)[1].IsNil()
		}
		if !created {
			t.Fatalf("%s: no series created with up to 4 labels", v.Type().Field(i).Name)
		}
	}
}
