package deploy

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"
)

// The queue-health policies watch these metrics of Pub/Sub (Cloud
// Monitoring's pubsub.googleapis.com/subscription/...) on the subscriptions
// deploy/pubsub/provision.sh creates.
var (
	policyMetrics = map[string]bool{
		"pubsub.googleapis.com/subscription/oldest_unacked_message_age": true,
		"pubsub.googleapis.com/subscription/num_undelivered_messages":   true,
	}
	policyFilter = regexp.MustCompile(`^resource\.type = "pubsub_subscription" AND resource\.labels\.subscription_id = "([^"]+)" AND metric\.type = "([^"]+)"$`)
)

// policyFiles decodes deploy/monitoring/policies/*.json strictly into the
// monitoring v3 AlertPolicy.
func policyFiles(t *testing.T) map[string]*monitoringpb.AlertPolicy {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("monitoring", "policies", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policy files: %v", err)
	}
	out := map[string]*monitoringpb.AlertPolicy{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := &monitoringpb.AlertPolicy{}
		if err := protojson.Unmarshal(b, p); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = p
	}
	return out
}

// TestAlertPoliciesAreWellFormed: each policy is a valid AlertPolicy on a
// Pub/Sub metric of a provisioned subscription, with an alert's name and a
// severity; together they watch the request backlog's age and size and any
// dead letter. That each links its runbook page is
// TestEveryAlertHasItsRunbookPage's.
func TestAlertPoliciesAreWellFormed(t *testing.T) {
	t.Parallel()
	watched := map[string]bool{}
	for file, p := range policyFiles(t) {
		if name := p.GetDisplayName(); !alertName.MatchString(name) {
			t.Errorf("%s: display name %q is not an alert's name (Opcancel, then words in CamelCase)", file, name)
		}
		sev := p.GetSeverity()
		if (sev != monitoringpb.AlertPolicy_WARNING && sev != monitoringpb.AlertPolicy_CRITICAL) || p.GetUserLabels()["severity"] != strings.ToLower(sev.String()) {
			t.Errorf("%s: severity %v, label %q", file, sev, p.GetUserLabels()["severity"])
		}
		if len(p.GetConditions()) == 0 {
			t.Errorf("%s: no condition", file)
		}
		for _, c := range p.GetConditions() {
			th := c.GetConditionThreshold()
			m := policyFilter.FindStringSubmatch(th.GetFilter())
			if th == nil || m == nil || !policyMetrics[m[2]] {
				t.Errorf("%s: condition %q is not a threshold on a Pub/Sub subscription metric: %q", file, c.GetDisplayName(), th.GetFilter())
				continue
			}
			if th.GetComparison() != monitoringpb.ComparisonType_COMPARISON_GT || len(th.GetAggregations()) == 0 {
				t.Errorf("%s: condition %q: comparison %v, aggregations %v", file, c.GetDisplayName(), th.GetComparison(), th.GetAggregations())
			}
			watched[m[1]+" "+strings.TrimPrefix(m[2], "pubsub.googleapis.com/subscription/")] = true
		}
	}
	for _, want := range []string{"opcancel-worker oldest_unacked_message_age", "opcancel-worker num_undelivered_messages", "opcancel-dead-letter num_undelivered_messages"} {
		if !watched[want] {
			t.Errorf("no policy watches %s", want)
		}
	}
}

// TestApplyPoliciesIsIdempotent runs deploy/monitoring/apply-policies.sh
// with WORKER_ALERTS=yes (the gke path) twice against a fake Cloud
// Monitoring: the first run creates each policy (queue health and the
// generated alerts) and the dashboard, the second
// updates each in place (the dashboard by its etag); nothing is duplicated
// and another team's policy and dashboard are left alone. The policies watch SUBSCRIPTION and link
// their runbook pages under RUNBOOKS of runbooks.env (the script runs from
// a copy of the kit whose runbooks.env names a Git host).
func TestApplyPoliciesIsIdempotent(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed")
	}
	theirs := &monitoringpb.AlertPolicy{Name: "projects/p/alertPolicies/theirs", DisplayName: "SomeoneElses"}
	theirBoard := &dashboardpb.Dashboard{Name: "projects/p/dashboards/theirs", DisplayName: "someone-elses", Etag: "t1"}
	fake := &fakeMonitoring{t: t, policies: map[string]*monitoringpb.AlertPolicy{theirs.Name: theirs},
		dashboards: map[string]*dashboardpb.Dashboard{theirBoard.Name: theirBoard}}
	api := httptest.NewServer(fake)
	defer api.Close()
	files := policyFiles(t)
	generated := generatedPolicies(t)
	for _, name := range slices.Sorted(maps.Keys(generated))[:kitAlerts] {
		files["alerts/"+name] = generated[name]
	}
	const runbooks = "https://git.example.com/you/opcancel/blob/v0.1.0/docs/runbooks"
	script := policiesKit(t, runbooks)
	for run := 1; run <= 2; run++ {
		if out, err := applyPolicies(script, api.URL, "SUBSCRIPTION=their-worker", "WORKER_ALERTS=yes"); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, out)
		}
		fake.mu.Lock()
		byName := map[string]int{}
		for _, p := range fake.policies {
			byName[p.GetDisplayName()]++
		}
		held := len(fake.policies)
		calls := slices.Clone(fake.calls)
		fake.calls = nil
		boards := map[string]int{}
		for _, d := range fake.dashboards {
			boards[d.GetDisplayName()]++
		}
		boardCalls := strings.Join(fake.dashboardCalls, " ")
		fake.dashboardCalls = nil
		fake.mu.Unlock()
		if wantCalls := map[int]string{1: "GET POST", 2: "GET PATCH"}[run]; boards["opcancel"] != 1 || boards["someone-elses"] != 1 || boardCalls != wantCalls {
			t.Errorf("run %d: dashboards %v after the calls %q, want one opcancel after %q", run, boards, boardCalls, wantCalls)
		}
		if held != len(files)+1 || byName["SomeoneElses"] != 1 {
			t.Errorf("run %d: the project holds %v", run, byName)
		}
		for _, p := range files {
			if byName[p.GetDisplayName()] != 1 {
				t.Errorf("run %d: %d policies named %s, want 1", run, byName[p.GetDisplayName()], p.GetDisplayName())
			}
		}
		want := map[int]string{1: http.MethodPost, 2: http.MethodPatch}[run]
		if n := strings.Count(strings.Join(calls, " "), want); n != len(files) || slices.Contains(calls, map[int]string{1: http.MethodPatch, 2: http.MethodPost}[run]) {
			t.Errorf("run %d: calls %v, want one %s a policy", run, calls, want)
		}
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, p := range fake.policies {
		if p.GetName() == theirs.GetName() {
			continue
		}
		if f := p.GetConditions(); len(f) > 0 && strings.Contains(f[0].GetConditionThreshold().GetFilter(), `"opcancel-worker"`) {
			t.Errorf("%s still watches opcancel-worker, not SUBSCRIPTION=their-worker", p.GetDisplayName())
		}
		if doc, want := p.GetDocumentation().GetContent(), runbooks+"/"+p.GetDisplayName()+".md"; !strings.HasSuffix(doc, "Runbook: "+want) {
			t.Errorf("%s: the documentation does not end linking %s:\n%s", p.GetDisplayName(), want, doc)
		}
	}
}

// TestApplyPoliciesLeavesTheWorkerAlertsOutByDefault: without
// WORKER_ALERTS=yes (the prod overlay's alerts page through an
// Alertmanager) the script creates the queue-health policies and none of
// the worker's alerts; a worker alert an earlier run created is left as it
// is, and named with the command that deletes it. A WORKER_ALERTS that is
// neither yes nor no stops it before any call. (DASHBOARD=no: the
// dashboard's path is TestApplyPoliciesIsIdempotent's, and gcloud takes
// seconds a call.)
func TestApplyPoliciesLeavesTheWorkerAlertsOutByDefault(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Skip("gcloud is not installed")
	}
	generated := generatedPolicies(t)
	earlier := generated[slices.Sorted(maps.Keys(generated))[0]]
	earlier.Name = "projects/p/alertPolicies/earlier"
	fake := &fakeMonitoring{t: t, policies: map[string]*monitoringpb.AlertPolicy{earlier.Name: earlier},
		dashboards: map[string]*dashboardpb.Dashboard{}}
	api := httptest.NewServer(fake)
	defer api.Close()
	script := policiesKit(t, "docs/runbooks")

	out, err := applyPolicies(script, api.URL, "WORKER_ALERTS=maybe")
	if err == nil || !strings.Contains(string(out), "WORKER_ALERTS=maybe: want yes or no") {
		t.Errorf("WORKER_ALERTS=maybe: %v\n%s", err, out)
	}
	fake.mu.Lock()
	if len(fake.calls)+len(fake.dashboardCalls) != 0 {
		t.Errorf("WORKER_ALERTS=maybe called the API: %v %v", fake.calls, fake.dashboardCalls)
	}
	fake.mu.Unlock()

	out, err = applyPolicies(script, api.URL, "DASHBOARD=no")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	var got []string
	for _, p := range fake.policies {
		got = append(got, p.GetDisplayName())
	}
	var want []string
	for _, p := range policyFiles(t) {
		want = append(want, p.GetDisplayName())
	}
	want = append(want, earlier.GetDisplayName())
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the project holds %v, want the queue-health policies and the earlier %s only", got, earlier.GetDisplayName())
	}
	if calls := strings.Join(fake.calls, " "); strings.Contains(calls, http.MethodPatch) {
		t.Errorf("calls %s: the earlier worker alert was updated", calls)
	}
	if del := "gcloud alpha monitoring policies delete " + earlier.Name + " --project=p"; !strings.Contains(string(out), del) {
		t.Errorf("the script does not name the earlier %s with %q:\n%s", earlier.GetDisplayName(), del, out)
	}
}

// applyPolicies runs the script against the fake Cloud Monitoring at api,
// for project p, with env added.
func applyPolicies(script, api string, env ...string) ([]byte, error) {
	cmd := exec.Command("bash", script)
	cmd.Env = append(append(os.Environ(), "PROJECT=p",
		"CLOUDSDK_API_ENDPOINT_OVERRIDES_MONITORING="+api+"/",
		"CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true", "CLOUDSDK_CORE_DISABLE_PROMPTS=1"), env...)
	return cmd.CombinedOutput()
}

// kitAlerts is how many generated policies policiesKit copies.
const kitAlerts = 2

// policiesKit copies apply-policies.sh and the policies into a directory
// laid out as deploy/ is, beside a base/runbooks.env that sets RUNBOOKS to
// runbooks, and returns the copied script.
func policiesKit(t *testing.T, runbooks string) string {
	t.Helper()
	kit := t.TempDir()
	for _, dir := range []string{"base", "monitoring/policies", "monitoring/alerts"} {
		if err := os.MkdirAll(filepath.Join(kit, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files, err := filepath.Glob(filepath.Join("monitoring", "policies", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := filepath.Glob(filepath.Join(generatedAlertsDir, "*.json"))
	if err != nil || len(alerts) < kitAlerts {
		t.Fatalf("generated policies %v: %v", alerts, err)
	}
	// Two of the generated policies stand for all: the script treats every
	// file alike, gcloud takes seconds a call, and their contents are
	// checked by TestCloudMonitoringPoliciesMirrorTheRules.
	alerts = alerts[:kitAlerts]
	for _, f := range append(append(files, alerts...), generatedDashboard, filepath.Join("monitoring", "apply-policies.sh")) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(kit, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(kit, "base", "runbooks.env"), []byte("RUNBOOKS="+runbooks+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(kit, "monitoring", "apply-policies.sh")
}
