package deploy

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

// generatedPolicies decodes deploy/monitoring/alerts/*.json strictly (no
// unknown field) into the monitoring v3 AlertPolicy, by file name.
func generatedPolicies(t *testing.T) map[string]*monitoringpb.AlertPolicy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(generatedAlertsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no generated policies in %s: %v", generatedAlertsDir, err)
	}
	out := map[string]*monitoringpb.AlertPolicy{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := &monitoringpb.AlertPolicy{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(b, p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = p
	}
	return out
}

var cloudLabelRef = regexp.MustCompile(`\$\{metric\.label\.([a-zA-Z_][a-zA-Z0-9_]*)\}`)

// TestCloudMonitoringPoliciesMirrorTheRules: the generated policies are the
// PrometheusRule's alerts, one each: the same name, group, severity, labels
// and for, a PromQL condition evaluated every minute, documentation in
// Markdown with a subject and the runbook link, label references only to
// labels the query keeps, and only metrics the worker exports (or the
// pod alerts' kube-state-metrics and up).
func TestCloudMonitoringPoliciesMirrorTheRules(t *testing.T) {
	t.Parallel()
	rules := map[string]monitoringv1.Rule{}
	groupOf := map[string]string{}
	for _, g := range baseRuleGroups(t) {
		for _, r := range g.Rules {
			if r.Alert != "" {
				rules[r.Alert], groupOf[r.Alert] = r, g.Name
			}
		}
	}
	exported := exportedMetrics(t)
	seen := map[string]bool{}
	for file, p := range generatedPolicies(t) {
		name := p.GetDisplayName()
		r, ok := rules[name]
		if !ok || file != name+".json" {
			t.Errorf("%s: policy %q is no alert of the PrometheusRule", file, name)
			continue
		}
		seen[name] = true
		sev := r.Labels["severity"]
		if p.GetSeverity().String() != strings.ToUpper(sev) || p.GetUserLabels()["severity"] != sev {
			t.Errorf("%s: severity %v (label %q), the rule's is %q", name, p.GetSeverity(), p.GetUserLabels()["severity"], sev)
		}
		doc := p.GetDocumentation()
		if doc.GetMimeType() != "text/markdown" || doc.GetSubject() == "" || !strings.HasSuffix(doc.GetContent(), "\n\nRunbook: docs/runbooks/"+name+".md") {
			t.Errorf("%s: documentation %v, want Markdown with a subject, ending with its runbook page", name, doc)
		}
		if len(p.GetConditions()) != 1 || p.GetConditions()[0].GetConditionPrometheusQueryLanguage() == nil {
			t.Errorf("%s: conditions %v, want one PromQL condition", name, p.GetConditions())
			continue
		}
		c := p.GetConditions()[0].GetConditionPrometheusQueryLanguage()
		var want time.Duration
		if r.For != nil {
			want, _ = time.ParseDuration(string(*r.For))
		}
		if got := c.GetDuration().AsDuration(); got != want {
			t.Errorf("%s: duration %s, the rule's for is %s", name, got, want)
		}
		if c.GetEvaluationInterval().AsDuration() != ruleEvaluation || c.GetRuleGroup() != groupOf[name] || c.GetAlertRule() != name || !maps.Equal(c.GetLabels(), r.Labels) {
			t.Errorf("%s: evaluation %s, group %q, rule %q, labels %v; want %s, %q, %q, %v",
				name, c.GetEvaluationInterval().AsDuration(), c.GetRuleGroup(), c.GetAlertRule(), c.GetLabels(), ruleEvaluation, groupOf[name], name, r.Labels)
		}
		checkMetricNames(t, "policy "+name, c.GetQuery(), exported)
		for _, text := range []string{doc.GetSubject(), doc.GetContent()} {
			if strings.Contains(text, "{{") {
				t.Errorf("%s: a Prometheus template is left in %q", name, text)
			}
			for _, ref := range cloudLabelRef.FindAllStringSubmatch(text, -1) {
				if !strings.Contains(c.GetQuery(), ref[1]) {
					t.Errorf("%s: %s names a label its query does not keep", name, ref[0])
				}
			}
		}
	}
	for name := range rules {
		if !seen[name] {
			t.Errorf("alert %s has no Cloud Monitoring policy in %s", name, generatedAlertsDir)
		}
	}
}

// TestCloudMonitoringPoliciesFireAsTheRules runs the alert scenarios of
// alerts_scenarios_test.go on the generated policies' queries, each as an
// alerting rule with its policy's duration, group and labels, and no
// recording rule: exactly the alerts that fire from the PrometheusRule
// fire from the policies, with the same labels. That is the test of the
// translation (monitoring_translate_test.go): the recorded series inlined,
// and the clusters kept apart, which the scenarios' single cluster does not
// notice. promtool also checks every query parses.
func TestCloudMonitoringPoliciesFireAsTheRules(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	annotations := alertRules(baseRuleGroups(t))
	byGroup := map[string][]monitoringv1.Rule{}
	for _, p := range generatedPolicies(t) {
		c := p.GetConditions()[0].GetConditionPrometheusQueryLanguage()
		hold := monitoringv1.Duration(c.GetDuration().AsDuration().String())
		byGroup[c.GetRuleGroup()] = append(byGroup[c.GetRuleGroup()], monitoringv1.Rule{
			Alert:  c.GetAlertRule(),
			Expr:   intstr.FromString(c.GetQuery()),
			For:    &hold,
			Labels: c.GetLabels(),
			// The scenarios check the rules' annotations as Prometheus
			// expands them; the policies' texts are checked above.
			Annotations: annotations[c.GetAlertRule()].Annotations,
		})
	}
	var groups []monitoringv1.RuleGroup
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		groups = append(groups, monitoringv1.RuleGroup{Name: g, Rules: byGroup[g]})
	}
	dir := t.TempDir()
	file := writeRuleFile(t, dir, groups)
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the policies' queries: %v\n%s", err, out)
	}
	tests, fired := promtoolTests(t, alertRules(groups), alertScenarios())
	for name := range alertRules(groups) {
		if !fired[name] {
			t.Errorf("no scenario makes %s fire", name)
		}
	}
	data, err := sigsyaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	testFile := filepath.Join(dir, "policies_test.yaml")
	if err := os.WriteFile(testFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", testFile).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on the policies' queries: %v\n%s", err, out)
	}
}

// TestTranslationKeepsClustersApart: two clusters with a namespace of the
// same name, one with every worker down. The PrometheusRule, evaluated per
// cluster, pages for that cluster; the policy, evaluated over the whole
// project, does too, which it would not without the cluster labels.
func TestTranslationKeepsClustersApart(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	var down *monitoringpb.AlertPolicy
	for _, p := range generatedPolicies(t) {
		if p.GetDisplayName() == "OpcancelDown" {
			down = p
		}
	}
	if down == nil {
		t.Fatal("no OpcancelDown policy")
	}
	c := down.GetConditions()[0].GetConditionPrometheusQueryLanguage()
	hold := monitoringv1.Duration(c.GetDuration().AsDuration().String())
	dir := t.TempDir()
	writeRuleFile(t, dir, []monitoringv1.RuleGroup{{Name: "g", Rules: []monitoringv1.Rule{{Alert: "OpcancelDown", Expr: intstr.FromString(c.GetQuery()), For: &hold}}}})
	up := func(cluster string) string {
		return fmt.Sprintf(`up{project_id="p",location="europe-west1",cluster=%q,job="opcancel",namespace="opcancel",pod="w"}`, cluster)
	}
	tests := promtoolFile{RuleFiles: []string{"rules.yaml"}, EvaluationInterval: "1m", Tests: []promtoolTest{{
		Name: "one of two clusters down", Interval: "1m",
		InputSeries: []promtoolInput{{Series: up("a"), Values: "1x30"}, {Series: up("b"), Values: "0x30"}},
		AlertRuleTst: []promtoolAlert{{EvalTime: "20m", Alertname: "OpcancelDown", ExpAlerts: []promtoolExpected{{
			ExpLabels: map[string]string{"project_id": "p", "location": "europe-west1", "cluster": "b", "namespace": "opcancel"},
		}}}},
	}}}
	data, err := sigsyaml.Marshal(tests)
	if err != nil {
		t.Fatal(err)
	}
	testFile := filepath.Join(dir, "clusters_test.yaml")
	if err := os.WriteFile(testFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", testFile).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}
