package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// ruleGroups returns the rule groups of the prod overlay's PrometheusRule,
// as Prometheus loads them.
func ruleGroups(t *testing.T) []monitoringv1.RuleGroup {
	t.Helper()
	var groups []monitoringv1.RuleGroup
	for _, pr := range render(t, "overlays/prod").rules {
		groups = append(groups, pr.Spec.Groups...)
	}
	if len(groups) == 0 {
		t.Fatal("the prod overlay renders no rule groups")
	}
	return groups
}

// alertRules returns the alerting rules of groups, by name.
func alertRules(groups []monitoringv1.RuleGroup) map[string]monitoringv1.Rule {
	out := map[string]monitoringv1.Rule{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out[r.Alert] = r
			}
		}
	}
	return out
}

// writeRuleFile writes groups as a Prometheus rule file in dir.
func writeRuleFile(t *testing.T, dir string, groups []monitoringv1.RuleGroup) string {
	t.Helper()
	data, err := sigsyaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

var (
	ownSelector = regexp.MustCompile(`\b(opcancel_[a-z_]+|up)\{([^}]*)\}`)
	bareOwn     = regexp.MustCompile(`\b(opcancel_[a-z_]+|up)\b[^{_a-z]`)
)

// TestAlertHygiene: every alert is critical (pages) or warning (a ticket),
// reads only the worker's own scrape job, and publisher mistakes never
// page. That each links its runbook page is TestEveryAlertHasItsRunbookPage's.
func TestAlertHygiene(t *testing.T) {
	t.Parallel()
	groups := ruleGroups(t)
	alerts := alertRules(groups)
	for name, r := range alerts {
		sev := r.Labels["severity"]
		if sev != "critical" && sev != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", name, sev)
		}
		expr := r.Expr.String()
		for _, m := range ownSelector.FindAllStringSubmatch(expr, -1) {
			if !strings.Contains(m[2], `job="opcancel"`) {
				t.Errorf("%s: %s is not scoped to job=\"opcancel\"", name, m[0])
			}
		}
		if m := bareOwn.FindString(expr + " "); m != "" {
			t.Errorf("%s: %q has no job selector", name, m)
		}
		if strings.Contains(expr, "kube_") && !strings.Contains(expr, `on (namespace, pod) up{job="opcancel"}`) {
			t.Errorf("%s: kube-state-metrics series not joined to the pods the opcancel job scrapes", name)
		}
		if strings.Contains(expr, `"invalid`) || strings.Contains(expr, `rejected`) {
			if sev != "warning" {
				t.Errorf("%s: publisher mistakes (invalid, rejected) must open tickets, not page", name)
			}
		}
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record != "" && !strings.Contains(r.Expr.String(), `job="opcancel"`) {
				t.Errorf("recording rule %s reads beyond the opcancel job", r.Record)
			}
		}
	}
	if len(alerts) < 11 {
		t.Errorf("%d alerts, want the eleven of the runbooks", len(alerts))
	}
}

// TestAlertsFireOnTheirSeriesAndOnlyThere runs `promtool test rules` on
// the scenarios of alerts_scenarios_test.go: in each, exactly the alerts it
// names fire (every other alert is checked silent), so each alert fires on
// its series, none fires on a healthy worker or the dev overlay's
// provisioning Job, and one incident pages once.
func TestAlertsFireOnTheirSeriesAndOnlyThere(t *testing.T) {
	t.Parallel()
	groups := ruleGroups(t)
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	alerts := alertRules(groups)
	dir := t.TempDir()
	writeRuleFile(t, dir, groups)
	tests, fired := promtoolTests(t, alerts, alertScenarios())
	for name := range alerts {
		if !fired[name] {
			t.Errorf("no scenario makes %s fire", name)
		}
	}
	data, err := sigsyaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "alerts_test.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// promtool's unit test file (`promtool test rules`).
type promtoolFile struct {
	RuleFiles          []string       `json:"rule_files"`
	EvaluationInterval string         `json:"evaluation_interval"`
	Tests              []promtoolTest `json:"tests"`
}

type promtoolTest struct {
	Name         string          `json:"name"`
	Interval     string          `json:"interval"`
	InputSeries  []promtoolInput `json:"input_series"`
	AlertRuleTst []promtoolAlert `json:"alert_rule_test"`
}

type promtoolInput struct {
	Series string `json:"series"`
	Values string `json:"values"`
}

type promtoolAlert struct {
	EvalTime  string             `json:"eval_time"`
	Alertname string             `json:"alertname"`
	ExpAlerts []promtoolExpected `json:"exp_alerts"`
}

type promtoolExpected struct {
	ExpLabels      map[string]string `json:"exp_labels"`
	ExpAnnotations map[string]string `json:"exp_annotations"`
}

var labelRef = regexp.MustCompile(`\{\{ \$labels\.([a-z_]+) \}\}`)

// promtoolTests turns the scenarios into promtool's tests: every alert is
// checked in every scenario, expected to fire exactly where the scenario
// says, with its severity and its annotations as Prometheus expands them.
// It returns the alerts some scenario makes fire.
func promtoolTests(t *testing.T, alerts map[string]monitoringv1.Rule, scenarios []alertScenario) (promtoolFile, map[string]bool) {
	t.Helper()
	names := make([]string, 0, len(alerts))
	for n := range alerts {
		names = append(names, n)
	}
	slices.Sort(names)
	fired := map[string]bool{}
	f := promtoolFile{RuleFiles: []string{"rules.yaml"}, EvaluationInterval: "1m"}
	for _, sc := range scenarios {
		pt := promtoolTest{Name: sc.name, Interval: "1m"}
		for _, s := range sc.series.sorted() {
			pt.InputSeries = append(pt.InputSeries, promtoolInput{Series: s[0], Values: s[1]})
		}
		for _, n := range names {
			pa := promtoolAlert{EvalTime: sc.at, Alertname: n, ExpAlerts: []promtoolExpected{}}
			for _, fire := range sc.fires {
				if fire.alert != n {
					continue
				}
				if _, ok := alerts[n]; !ok {
					t.Fatalf("scenario %q expects %s, which is no alert", sc.name, n)
				}
				fired[n] = true
				pa.ExpAlerts = append(pa.ExpAlerts, expected(alerts[n], fire.labels))
			}
			pt.AlertRuleTst = append(pt.AlertRuleTst, pa)
		}
		f.Tests = append(f.Tests, pt)
	}
	return f, fired
}

// expected is the alert rule r fires with the labels of its series.
func expected(r monitoringv1.Rule, labels map[string]string) promtoolExpected {
	e := promtoolExpected{ExpLabels: map[string]string{}, ExpAnnotations: map[string]string{}}
	for k, v := range labels {
		e.ExpLabels[k] = v
	}
	for k, v := range r.Labels {
		e.ExpLabels[k] = v
	}
	for k, v := range r.Annotations {
		e.ExpAnnotations[k] = labelRef.ReplaceAllStringFunc(v, func(ref string) string {
			return labels[labelRef.FindStringSubmatch(ref)[1]]
		})
	}
	return e
}
