package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// TestAllowListsAndServiceAgreement runs the worker on the emulator with an
// allow list for Vault: a name outside it ends forbidden (acked, counted,
// logged and published with the rule that refused it) and is never sent; a
// message whose service attribute names another service than its data ends
// invalid, saying which two disagree; submit refuses a forbidden name before
// publishing, and submit --wait, which cannot see the worker's allow lists
// without its services file, exits 3 when the worker forbids one.
func TestAllowListsAndServiceAgreement(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, `allow: ["operations/team-a/**"]`)
	apis.vault.Set("operations/team-a/ok", lrotest.Script{})
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	admin, logs, _ := startWorker(t, e, "--subscription="+ps.sub, "--results-topic="+ps.results, "--config="+apis.config)

	attr := func(s string) map[string]string { return map[string]string{"service": s} }
	publish(t, e, ps.topic,
		message{data: "operations/team-a/ok"},
		message{data: "operations/team-b/x", attrs: attr(vaultHost)},
		// A subscription filtered on attributes.service = androidmanagement
		// would receive these; their data names Vault.
		message{data: `{"name":"operations/team-a/y","service":"` + vaultHost + `"}`, attrs: attr(amapiHost)},
		message{data: "//" + vaultHost + "/operations/team-a/z", attrs: attr(amapiHost)},
	)
	var ev eventsByName
	waitFor(t, "four outcomes", e2eLimits.job(), func() bool {
		ev.pull(t, e, ps.resultsSub)
		return ev.total >= 4
	})
	want := map[string]struct{ outcome, message string }{
		"operations/team-a/ok": {"cancelled", ""},
		"operations/team-b/x":  {"forbidden", `forbidden: name "operations/team-b/x" is outside the allow list of vault.googleapis.com in the services file [operations/team-a/**]`},
		"operations/team-a/y":  {"invalid", `the service attribute "androidmanagement.googleapis.com" and the JSON service field "vault.googleapis.com" disagree`},
		"operations/team-a/z":  {"invalid", `the service attribute "androidmanagement.googleapis.com" and the host of the full resource name "vault.googleapis.com" disagree`},
	}
	for name, w := range want {
		evs := ev.byName[name]
		if len(evs) != 1 || evs[0]["outcome"] != w.outcome || !strings.Contains(evs[0]["message"].(string), w.message) {
			t.Errorf("%s: events %v, want one %s with %q", name, evs, w.outcome, w.message)
		}
	}
	for _, r := range apis.vault.Requests() {
		if !strings.Contains(r.Path, "team-a/ok") {
			t.Errorf("%s %s was sent", r.Method, r.Path)
		}
	}
	if n := len(apis.amapi.Requests()); n != 0 {
		t.Errorf("%d requests reached Android Management", n)
	}
	m := scrape(t, admin)
	if got := value(m, "opcancel_jobs_total", map[string]string{"service": vaultHost, "outcome": "forbidden"}); got != 1 {
		t.Errorf("opcancel_jobs_total{vault, forbidden} = %v, want 1", got)
	}
	if got := value(m, "opcancel_jobs_total", map[string]string{"service": amapiHost, "outcome": "forbidden"}); got != 0 {
		t.Errorf("opcancel_jobs_total{androidmanagement, forbidden} = %v, want 0 (every enabled service's series from start-up)", got)
	}
	if line := logLine(t, logs.String(), "operation forbidden"); line["severity"] != "WARNING" || !strings.Contains(toStr(line["detail"]), "allow list of vault.googleapis.com") {
		t.Errorf("the forbidden name's log line: %v", line)
	}

	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	out, errb, code, _ := runCLI(t, env, "submit", "--topic="+ps.topic, "--config="+apis.config, "--auth=none", "operations/team-b/q")
	if code != 0 || !strings.HasPrefix(out, "published: 0, invalid: 1, failed: 0") ||
		!strings.Contains(errb, `argument 1: forbidden: name "operations/team-b/q" is outside the allow list of vault.googleapis.com in the services file [operations/team-a/**]`) {
		t.Errorf("submit of a forbidden name: exit %d\n%s\n%s", code, out, errb)
	}
	// Without the services file, submit publishes; the worker refuses.
	out, errb, code, _ = runCLI(t, env, "submit", "--wait", "--topic="+ps.topic, "--results-topic="+ps.results, "--batches-topic="+ps.batches,
		"--auth=none", "operations/team-b/w")
	if code != 3 || !strings.Contains(out, "vault.googleapis.com  operations/team-b/w  forbidden  PERMISSION_DENIED") {
		t.Errorf("submit --wait of a name the worker forbids: exit %d, want 3\n%s\n%s", code, out, errb)
	}
}

// TestBuiltinsOff: a deployment whose services file sets builtins: false
// and enables Vertex AI alone refuses an Android Management name as
// invalid, saying that the built-ins are off, and so does submit.
func TestBuiltinsOff(t *testing.T) {
	t.Parallel()
	w := newPstestWorld(t, "http://127.0.0.1:1")
	config := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(config, []byte("builtins: false\nservices:\n  - host: aiplatform.googleapis.com\n    endpoint: http://127.0.0.1:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.Config = config
	admin, logs := w.start(t)
	w.publish(t, "enterprises/e1/devices/d1/operations/wipe", "//androidmanagement.googleapis.com/enterprises/e1/devices/d1/operations/lock")
	waitFor(t, "two outcomes", e2eLimits.job(), func() bool {
		return value(scrape(t, admin), "opcancel_jobs_total", map[string]string{"outcome": "invalid"}) == 2
	})
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"operation invalid"`) && !strings.Contains(l, "a built-in, but the services file sets builtins: false") {
			t.Errorf("the invalid outcome does not say why: %s", l)
		}
	}
	m := scrape(t, admin)
	for host, want := range map[string]float64{"aiplatform.googleapis.com": 0, vaultHost: -1, amapiHost: -1} {
		if got := value(m, "opcancel_jobs_total", map[string]string{"service": host, "outcome": "cancelled"}); got != want {
			t.Errorf("opcancel_jobs_total{%s, cancelled} = %v, want %v (-1: no series, not enabled)", host, got, want)
		}
	}

	out, errb, code, _ := runCLI(t, nil, "submit", "--topic=projects/p/topics/requests", "--dry-run", "--config="+config, "--auth=none",
		"enterprises/e1/devices/d1/operations/wipe")
	if code != 0 || !strings.HasPrefix(out, "valid (dry run, nothing published): 0, invalid: 1") ||
		!strings.Contains(errb, "argument 1: invalid: name \"enterprises/e1/devices/d1/operations/wipe\" matches no enabled service; it matches the patterns of androidmanagement.googleapis.com (a built-in, but the services file sets builtins: false)") {
		t.Errorf("submit: exit %d\n%s\n%s", code, out, errb)
	}
}

// logLine returns the first JSON log line whose message is msg.
func logLine(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(l), &line) == nil && line["message"] == msg {
			return line
		}
	}
	t.Errorf("no log line %q", msg)
	return nil
}

func toStr(v any) string {
	s, _ := v.(string)
	return s
}
