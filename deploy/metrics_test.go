package deploy

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	sigsyaml "sigs.k8s.io/yaml"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/worker"
)

// adminPaths asks a real admin server what it answers on the probe paths.
func adminPaths(t *testing.T) map[string]int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := metrics.NewServer(ln, prometheus.NewRegistry(), func() bool { return true })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	out := map[string]int{}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		out[p] = status(ln.Addr().String(), p)
	}
	return out
}

// exportedMetrics returns every series name the worker exports.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for n := range exportedSeries(t) {
		names[n] = true
	}
	return names
}

// exportedSeries returns every series name the worker exports, with its
// label names.
func exportedSeries(t *testing.T) map[string][]string {
	t.Helper()
	series := map[string][]string{}
	for _, f := range workerFamilies(t) {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		series[f.GetName()] = labels
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				series[f.GetName()+s] = labels
			}
		}
	}
	return series
}

// exportedTypes returns the type of every metric family the worker exports.
func exportedTypes(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	types := map[string]dto.MetricType{}
	for _, f := range workerFamilies(t) {
		types[f.GetName()] = f.GetType()
	}
	return types
}

// workerFamilies gathers what a worker exports at start-up, with every
// labelled family touched so that it is gathered.
func workerFamilies(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	table := lro.NewTable(nil)
	m := metrics.New(reg)
	// The worker creates its series at start-up.
	ops, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := worker.New(worker.DefaultConfig(), worker.Deps{Table: table, Ops: ops, Log: zap.NewNop(), Metrics: m}); err != nil {
		t.Fatal(err)
	}
	m.APIRequests.WithLabelValues("s", "cancel", "OK")
	m.APIRequestDuration.WithLabelValues("s", "cancel").Observe(1)
	m.Retries.WithLabelValues("s", "UNAVAILABLE")
	m.BuildInfo.WithLabelValues("v", "c", "go")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// External series the alerts use: Prometheus's own and kube-state-metrics'.
var externalMetrics = map[string]bool{"up": true, "kube_pod_status_ready": true, "kube_pod_container_status_restarts_total": true,
	"kube_pod_container_resource_limits": true}

var metricName = regexp.MustCompile(`\b(opcancel_[a-z_]+|kube_[a-z_]+|up)\b`)

func checkMetricNames(t *testing.T, where, expr string, exported map[string]bool) {
	t.Helper()
	for _, name := range metricName.FindAllString(expr, -1) {
		if !exported[name] && !externalMetrics[name] {
			t.Errorf("%s uses %s, which the worker does not export", where, name)
		}
	}
}

func TestAlertsDashboardAndAdapterUseExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	r := render(t, "overlays/prod")
	groups := ruleGroups(t)
	for _, g := range groups {
		for _, rule := range g.Rules {
			checkMetricNames(t, "rule "+rule.Alert+rule.Record, rule.Expr.String(), exported)
		}
	}

	dash, err := os.ReadFile(filepath.Join("dashboards", "opcancel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := sigsyaml.Unmarshal(dash, &d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if len(d.Panels) < 7 {
		t.Errorf("dashboard has %d panels", len(d.Panels))
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			checkMetricNames(t, "panel "+p.Title, tg.Expr, exported)
		}
	}

	adapter, err := os.ReadFile(filepath.Join("prometheus-adapter", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Rules []struct {
			SeriesQuery  string `json:"seriesQuery"`
			MetricsQuery string `json:"metricsQuery"`
			Name         struct {
				As string `json:"as"`
			} `json:"name"`
		} `json:"rules"`
	}
	if err := sigsyaml.Unmarshal(adapter, &a); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rule := range a.Rules {
		checkMetricNames(t, "adapter rule "+rule.Name.As, rule.SeriesQuery+" "+rule.MetricsQuery, exported)
		served[rule.Name.As] = true
	}
	for _, h := range r.hpas {
		for _, m := range h.Spec.Metrics {
			if m.Pods == nil || !served[m.Pods.Metric.Name] {
				t.Errorf("the HPA scales on %+v, which the adapter rules do not serve", m)
			}
		}
	}

	// The rules parse and pass promtool's checks.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	file := writeRuleFile(t, t.TempDir(), groups)
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}
