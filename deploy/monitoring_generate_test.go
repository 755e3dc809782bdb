package deploy

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// The Cloud Monitoring alert policies of deploy/monitoring/alerts/ and the
// dashboard deploy/monitoring/dashboard.json are generated from the
// PrometheusRule (deploy/base/prometheusrule.yaml) and the Grafana
// dashboard (deploy/dashboards/opcancel.json) by this file, with the
// translation of monitoring_translate_test.go:
//
//	go -C deploy test -run TestCloudMonitoringFilesAreGenerated -update
//
// TestCloudMonitoringFilesAreGenerated fails when they differ from what it
// generates.

var update = flag.Bool("update", false, "write deploy/monitoring/alerts/*.json and deploy/monitoring/dashboard.json from the PrometheusRule and the Grafana dashboard")

const (
	generatedAlertsDir = "monitoring/alerts"
	generatedDashboard = "monitoring/dashboard.json"
	// ruleEvaluation is how often the policies evaluate, as Prometheus
	// evaluates the rule groups (the PrometheusRule sets no interval).
	ruleEvaluation = time.Minute
)

// The Cloud Monitoring v3 AlertPolicy and v1 Dashboard, in their JSON
// form, as far as the generated files use them; the tests decode the files
// strictly into the real types. (protojson's output is not byte-stable on
// purpose, so the files are written from these.)
type (
	cloudPolicy struct {
		DisplayName   string            `json:"displayName"`
		Documentation cloudDoc          `json:"documentation"`
		UserLabels    map[string]string `json:"userLabels"`
		Severity      string            `json:"severity"`
		Combiner      string            `json:"combiner"`
		Conditions    []cloudCondition  `json:"conditions"`
	}
	cloudDoc struct {
		Subject  string `json:"subject"`
		Content  string `json:"content"`
		MimeType string `json:"mimeType"`
	}
	cloudCondition struct {
		DisplayName string      `json:"displayName"`
		PromQL      cloudPromQL `json:"conditionPrometheusQueryLanguage"`
	}
	cloudPromQL struct {
		Query              string            `json:"query"`
		Duration           string            `json:"duration"`
		EvaluationInterval string            `json:"evaluationInterval"`
		Labels             map[string]string `json:"labels"`
		RuleGroup          string            `json:"ruleGroup"`
		AlertRule          string            `json:"alertRule"`
	}

	cloudDashboard struct {
		DisplayName  string      `json:"displayName"`
		MosaicLayout cloudMosaic `json:"mosaicLayout"`
	}
	cloudMosaic struct {
		Columns int         `json:"columns"`
		Tiles   []cloudTile `json:"tiles"`
	}
	cloudTile struct {
		XPos   int         `json:"xPos"`
		YPos   int         `json:"yPos"`
		Width  int         `json:"width"`
		Height int         `json:"height"`
		Widget cloudWidget `json:"widget"`
	}
	cloudWidget struct {
		Title   string       `json:"title"`
		XyChart cloudXyChart `json:"xyChart"`
	}
	cloudXyChart struct {
		DataSets []cloudDataSet `json:"dataSets"`
		YAxis    cloudAxis      `json:"yAxis"`
	}
	cloudDataSet struct {
		TimeSeriesQuery cloudQueryOf `json:"timeSeriesQuery"`
		PlotType        string       `json:"plotType"`
		LegendTemplate  string       `json:"legendTemplate,omitempty"`
		TargetAxis      string       `json:"targetAxis"`
	}
	cloudQueryOf struct {
		PrometheusQuery string `json:"prometheusQuery"`
		UnitOverride    string `json:"unitOverride,omitempty"`
	}
	cloudAxis struct {
		Label string `json:"label,omitempty"`
		Scale string `json:"scale"`
	}
)

// baseRuleGroups reads the PrometheusRule as checked in: its runbook links
// are the pages' file names, before kustomize puts RUNBOOKS in front.
func baseRuleGroups(t *testing.T) []monitoringv1.RuleGroup {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("base", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return decode[monitoringv1.PrometheusRule](t, b).Spec.Groups
}

// generatePolicies returns one AlertPolicy file per alert of groups, by
// file name.
func generatePolicies(t *testing.T, groups []monitoringv1.RuleGroup) map[string][]byte {
	t.Helper()
	recorded, err := recordings(groups)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			query, err := cloudQuery(r.Expr.String(), recorded)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			var hold time.Duration
			if r.For != nil {
				if hold, err = time.ParseDuration(string(*r.For)); err != nil {
					t.Fatalf("%s: for %q: %v", r.Alert, *r.For, err)
				}
			}
			sev := r.Labels["severity"]
			p := cloudPolicy{
				DisplayName: r.Alert,
				Documentation: cloudDoc{
					Subject:  cloudText(r.Annotations["summary"]),
					Content:  cloudText(r.Annotations["description"]) + "\n\nRunbook: docs/runbooks/" + r.Alert + ".md",
					MimeType: "text/markdown",
				},
				UserLabels: map[string]string{"app": "opcancel", "severity": sev},
				Severity:   strings.ToUpper(sev),
				Combiner:   "OR",
				Conditions: []cloudCondition{{
					DisplayName: r.Alert,
					PromQL: cloudPromQL{
						Query:              query,
						Duration:           seconds(hold),
						EvaluationInterval: seconds(ruleEvaluation),
						Labels:             r.Labels,
						RuleGroup:          g.Name,
						AlertRule:          r.Alert,
					},
				}},
			}
			files[r.Alert+".json"] = marshalFile(t, p)
		}
	}
	return files
}

// seconds is d in the JSON form of a protobuf Duration.
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d/time.Second)) }

// grafanaPanels is the part of the Grafana dashboard the Cloud Monitoring
// dashboard is made from.
type grafanaPanels struct {
	Panels []struct {
		Title   string `json:"title"`
		GridPos struct {
			X, Y, W, H int
		} `json:"gridPos"`
		FieldConfig struct {
			Defaults struct {
				Unit   string `json:"unit"`
				Custom struct {
					Stacking struct {
						Mode string `json:"mode"`
					} `json:"stacking"`
				} `json:"custom"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr         string `json:"expr"`
			LegendFormat string `json:"legendFormat"`
		} `json:"targets"`
	} `json:"panels"`
}

func readGrafanaPanels(t *testing.T) grafanaPanels {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("dashboards", "opcancel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g grafanaPanels
	if err := sigsyaml.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// generateDashboard returns the Cloud Monitoring dashboard: one widget per
// Grafana panel, where the panel is (Grafana's 24 columns are 48 here), with
// its targets as PromQL data sets.
func generateDashboard(t *testing.T, g grafanaPanels) []byte {
	t.Helper()
	d := cloudDashboard{DisplayName: "opcancel", MosaicLayout: cloudMosaic{Columns: 48}}
	for _, p := range g.Panels {
		unit, ok := cloudUnits[p.FieldConfig.Defaults.Unit]
		if !ok {
			t.Fatalf("panel %q: no Cloud Monitoring unit for Grafana's %q (cloudUnits)", p.Title, p.FieldConfig.Defaults.Unit)
		}
		plot := "LINE"
		if p.FieldConfig.Defaults.Custom.Stacking.Mode == "normal" {
			plot = "STACKED_AREA"
		}
		w := cloudWidget{Title: p.Title, XyChart: cloudXyChart{YAxis: cloudAxis{Scale: "LINEAR"}}}
		for _, tg := range p.Targets {
			w.XyChart.DataSets = append(w.XyChart.DataSets, cloudDataSet{
				TimeSeriesQuery: cloudQueryOf{PrometheusQuery: cloudPanelQuery(tg.Expr), UnitOverride: unit},
				PlotType:        plot,
				LegendTemplate:  cloudLegend(tg.LegendFormat),
				TargetAxis:      "Y1",
			})
		}
		d.MosaicLayout.Tiles = append(d.MosaicLayout.Tiles, cloudTile{
			XPos: 2 * p.GridPos.X, YPos: 2 * p.GridPos.Y, Width: 2 * p.GridPos.W, Height: 2 * p.GridPos.H, Widget: w})
	}
	return marshalFile(t, d)
}

// marshalFile is v as the files hold it: indented JSON, with <, > and &
// as they are.
func marshalFile(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestCloudMonitoringFilesAreGenerated: the checked-in alert policies and
// dashboard are exactly what the generator makes of the PrometheusRule and
// the Grafana dashboard (with -update, it writes them), and the policies'
// directory holds nothing else.
func TestCloudMonitoringFilesAreGenerated(t *testing.T) {
	t.Parallel()
	want := generatePolicies(t, baseRuleGroups(t))
	dashboard := generateDashboard(t, readGrafanaPanels(t))
	if *update {
		if err := os.RemoveAll(generatedAlertsDir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(generatedAlertsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range want {
			if err := os.WriteFile(filepath.Join(generatedAlertsDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(generatedDashboard, dashboard, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const regenerate = "go -C deploy test -run TestCloudMonitoringFilesAreGenerated -update"
	files, err := filepath.Glob(filepath.Join(generatedAlertsDir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		name := filepath.Base(f)
		got = append(got, name)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[name]; !ok {
			t.Errorf("%s is no alert's policy: remove it, or run %s", f, regenerate)
		} else if !bytes.Equal(b, w) {
			t.Errorf("%s is not what the PrometheusRule makes: run %s", f, regenerate)
		}
	}
	for name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("%s/%s is missing: run %s", generatedAlertsDir, name, regenerate)
		}
	}
	if b, err := os.ReadFile(generatedDashboard); err != nil || !bytes.Equal(b, dashboard) {
		t.Errorf("%s is not what the Grafana dashboard makes (%v): run %s", generatedDashboard, err, regenerate)
	}
}
