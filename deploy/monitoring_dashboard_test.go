package deploy

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// cloudDashboardFile decodes deploy/monitoring/dashboard.json strictly into
// the monitoring v1 Dashboard.
func cloudDashboardFile(t *testing.T) *dashboardpb.Dashboard {
	t.Helper()
	b, err := os.ReadFile(generatedDashboard)
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboardpb.Dashboard{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, d); err != nil {
		t.Fatalf("%s: %v", generatedDashboard, err)
	}
	return d
}

// TestCloudDashboardHasEveryGrafanaPanel: the Cloud Monitoring dashboard
// has one PromQL widget per Grafana panel, titled as it is, with a data set
// per target that reads the target's metrics, and nothing but metrics the
// worker exports (or the pod panels' kube-state-metrics); no Grafana
// variable is left in a query, and every query parses (promtool, as a
// recording rule). The tiles fit the grid and do not overlap.
func TestCloudDashboardHasEveryGrafanaPanel(t *testing.T) {
	t.Parallel()
	d := cloudDashboardFile(t)
	exported := exportedMetrics(t)
	widgets := map[string]*dashboardpb.Widget{}
	layout := d.GetMosaicLayout()
	if layout == nil {
		t.Fatal("the dashboard has no mosaic layout")
	}
	var queries []string
	for i, tile := range layout.GetTiles() {
		w := tile.GetWidget()
		widgets[w.GetTitle()] = w
		if tile.GetXPos()+tile.GetWidth() > layout.GetColumns() || tile.GetWidth() == 0 || tile.GetHeight() == 0 {
			t.Errorf("tile %q: x %d, width %d, height %d in %d columns", w.GetTitle(), tile.GetXPos(), tile.GetWidth(), tile.GetHeight(), layout.GetColumns())
		}
		for _, other := range layout.GetTiles()[:i] {
			if tile.GetXPos() < other.GetXPos()+other.GetWidth() && other.GetXPos() < tile.GetXPos()+tile.GetWidth() &&
				tile.GetYPos() < other.GetYPos()+other.GetHeight() && other.GetYPos() < tile.GetYPos()+tile.GetHeight() {
				t.Errorf("tiles %q and %q overlap", w.GetTitle(), other.GetWidget().GetTitle())
			}
		}
		for _, ds := range w.GetXyChart().GetDataSets() {
			q := ds.GetTimeSeriesQuery().GetPrometheusQuery()
			if q == "" {
				t.Errorf("widget %q has a data set without a PromQL query", w.GetTitle())
			}
			if strings.Contains(q, "$") {
				t.Errorf("widget %q: a Grafana variable is left in %q", w.GetTitle(), q)
			}
			checkMetricNames(t, "widget "+w.GetTitle(), q, exported)
			queries = append(queries, q)
		}
	}
	for _, p := range readGrafanaPanels(t).Panels {
		w, ok := widgets[p.Title]
		if !ok {
			t.Errorf("Grafana panel %q has no widget in %s", p.Title, generatedDashboard)
			continue
		}
		sets := w.GetXyChart().GetDataSets()
		if len(sets) != len(p.Targets) {
			t.Errorf("widget %q has %d data sets, the panel %d targets", p.Title, len(sets), len(p.Targets))
			continue
		}
		for i, tg := range p.Targets {
			want := metricNames(tg.Expr)
			got := metricNames(sets[i].GetTimeSeriesQuery().GetPrometheusQuery())
			if !slices.Equal(got, want) {
				t.Errorf("widget %q, data set %d reads %v, the panel's target %v", p.Title, i, got, want)
			}
		}
	}
	if len(widgets) != len(readGrafanaPanels(t).Panels) {
		t.Errorf("%d widgets for %d Grafana panels", len(widgets), len(readGrafanaPanels(t).Panels))
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	var rules []monitoringv1.Rule
	for _, q := range queries {
		rules = append(rules, monitoringv1.Rule{Record: "dashboard:query", Expr: intstr.FromString(q)})
	}
	file := writeRuleFile(t, t.TempDir(), []monitoringv1.RuleGroup{{Name: "dashboard", Rules: rules}})
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the widgets' queries: %v\n%s", err, out)
	}
}
