package deploy

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				series[f.GetName()+s] = labels
			}
		case dto.MetricType_SUMMARY:
			for _, s := range []string{"_sum", "_count"} {
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
// labelled family touched so that it is gathered: the registry
// metrics.New fills, the Go runtime's and the process's collectors
// included.
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

// What metricNames strips from a PromQL expression before what is left
// of its identifiers are metric names: string literals (label values), a
// selector's braces (label names), ranges and subqueries, grouping lists.
var (
	promName     = regexp.MustCompile(`\b__name__\s*=\s*"([^"\\]*)"`)
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promBraces   = regexp.MustCompile(`\{[^{}]*\}`)
	promBrackets = regexp.MustCompile(`\[[^\[\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// metricNames returns every metric a PromQL expression (or a
// prometheus-adapter query, with its <<.Templates>>) reads, in order: each
// identifier that is not a label, a function or aggregation (followed by
// "("), a keyword, part of a number or duration, or a template's field.
// The full parser is not used: it is in prometheus/prometheus, which would
// raise versions of modules the worker shares with this one, so that these
// tests built the worker with other versions than it ships with; what it
// would add, syntax, is promtool's check.
func metricNames(expr string) []string {
	var names []string
	for _, m := range promName.FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1])
	}
	expr = promString.ReplaceAllString(expr, `""`)
	expr = promBraces.ReplaceAllString(expr, "{}")
	expr = promBrackets.ReplaceAllString(expr, "[]")
	expr = promGrouping.ReplaceAllString(expr, "")
	for _, loc := range promIdent.FindAllStringIndex(expr, -1) {
		word := expr[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsAny(expr[loc[0]-1:loc[0]], "0123456789.") {
			continue // 1e3, 5m, <<.Series>>
		}
		if rest := strings.TrimLeft(expr[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(word)] {
			continue
		}
		names = append(names, word)
	}
	return names
}

// checkMetricNames: every metric expr reads is one the worker exports, or
// one of externalMetrics, or one of also (the rules' recorded series).
func checkMetricNames(t *testing.T, where, expr string, exported map[string]bool, also ...string) {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s reads no metric: %q", where, expr)
	}
	for _, name := range names {
		if !exported[name] && !externalMetrics[name] && !slices.Contains(also, name) {
			t.Errorf("%s uses %s, which the worker does not export", where, name)
		}
	}
}

// TestMetricNamesFindsEveryMetric: the extraction checkMetricNames relies
// on finds each metric of an expression, whatever its prefix, and nothing
// else.
func TestMetricNamesFindsEveryMetric(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (pod) (process_resident_memory_bytes{job="opcancel", namespace=~"$namespace"})`, []string{"process_resident_memory_bytes"}},
		{`histogram_quantile(0.99, sum by (le, service) (rate(opcancel_api_request_duration_seconds_bucket{job="opcancel"}[$__rate_interval])))`,
			[]string{"opcancel_api_request_duration_seconds_bucket"}},
		{`max by (service) (a_b{x="{y}"} / on (namespace, pod) group_left(node) c:d:e) > bool 1e3 unless absent(up{job="opcancel"}) offset 5m`,
			[]string{"a_b", "c:d:e", "up"}},
		{`min by (service) (opcancel_throttle_allowed_rate{job="opcancel"} < +Inf) or vector(0) and {__name__="go_goroutines"}`, []string{"go_goroutines", "opcancel_throttle_allowed_rate"}},
		{`sum(opcancel_concurrency{<<.LabelMatchers>>}) by (<<.GroupBy>>)`, []string{"opcancel_concurrency"}},
		{`label_replace(max_over_time(kube_pod_status_ready{condition="true"}[10m:1m]), "a", "$1", "b", "(.*)")`, []string{"kube_pod_status_ready"}},
	}
	for _, tt := range tests {
		if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestAlertsDashboardAndAdapterUseExportedMetrics(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	r := render(t, "overlays/prod")
	groups := ruleGroups(t)
	var recorded []string
	for _, g := range groups {
		for _, rule := range g.Rules {
			if rule.Record != "" {
				recorded = append(recorded, rule.Record)
			}
		}
	}
	for _, g := range groups {
		for _, rule := range g.Rules {
			checkMetricNames(t, "rule "+rule.Alert+rule.Record, rule.Expr.String(), exported, recorded...)
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
