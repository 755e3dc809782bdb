package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"opcancel/internal/e2etest"
)

// The real Prometheus check's settings: Prometheus scrapes and evaluates
// every second, and the worker gives up on a request after a second; its
// other limits suit an API that answers at once.
const (
	e2eScrapeInterval = time.Second
	e2eEvalInterval   = time.Second
)

var e2eLimits = e2etest.Limits{RetryBudget: time.Second, VerifyTimeout: 20 * time.Second, RequestTimeout: 5 * time.Second, ShutdownTimeout: 3 * time.Second}

// retryExhausted selects the worker's retry_exhausted outcomes.
const retryExhausted = `sum(opcancel_jobs_total{outcome="retry_exhausted"})`

// TestPrometheusSeesAFailingAPI runs a real Prometheus (Debian's prometheus
// package) against a running worker whose API fails every request, with the
// kit's rules: OpcancelRetryExhausted goes pending for that service, and no
// other critical alert is active meanwhile.
//
// The waits on Prometheus count its own rounds, not seconds: how soon it
// scrapes and evaluates depends on the machine, but the alert must be
// pending after the first evaluation of its group that follows the
// outcome's sample (pending, not firing: its for: is minutes).
func TestPrometheusSeesAFailingAPI(t *testing.T) {
	t.Parallel()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	groups := ruleGroups(t)
	group := groupOf(t, groups, "OpcancelRetryExhausted")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error": {"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable."}}`)
	}))
	defer api.Close()
	world := e2etest.NewPstestWorld(t, api.URL)
	l := e2eLimits
	worker := world.StartWorker(t, l.Args()...)
	admin, logs := worker.Admin, worker.Logs

	dir := t.TempDir()
	writeRuleFile(t, dir, groups)
	writePromConfig(t, dir, admin)
	web, out := startPrometheus(t, prom, dir)
	defer func() {
		if t.Failed() {
			t.Logf("prometheus:\n%s\nworker:\n%s", out, logs)
		}
	}()

	// The rate needs a sample from before the outcome: the series starts at zero.
	waitFor(t, "Prometheus to scrape the worker", untilDeadline(t), func() bool { _, ok := promQuery(t, web, retryExhausted); return ok })
	world.Publish(t, "operations/down-1", "operations/down-2", "operations/down-3")
	waitFor(t, "the worker to count a retry_exhausted outcome", l.Job(), func() bool {
		return value(scrape(t, admin), "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"}) >= 1
	})
	waitPending(t, web, group, "OpcancelRetryExhausted", vaultHost)
	// The other alerts as every group's next evaluation leaves them: read
	// during an evaluation, a rule not yet evaluated still shows the state
	// from before the outcome (OpcancelStalled pends while jobs are held
	// and no outcome is counted yet).
	pending := time.Now()
	waitFor(t, "every rule group to be evaluated again", untilDeadline(t), func() bool {
		evaluated := evaluations(t, web)
		for _, g := range groups {
			if !readsAfter(evaluated[g.Name], pending) {
				return false
			}
		}
		return true
	})
	for _, a := range alertsOf(t, web) {
		if a.Labels["severity"] == "critical" && a.Labels["alertname"] != "OpcancelRetryExhausted" {
			t.Errorf("a second critical alert for the same outage: %v (%s)", a.Labels, a.State)
		}
	}
}

// waitPending waits until alert is pending for service on the Prometheus at
// web. It fails as soon as group has been evaluated over a stored
// retry_exhausted outcome without the alert pending: an evaluation that
// reads the data of after the moment Prometheus first answered with the
// outcome (readsAfter) sees it.
func waitPending(t *testing.T, web, group, alert, service string) {
	t.Helper()
	var stored time.Time
	waitFor(t, alert+" to go pending", untilDeadline(t), func() bool {
		if stored.IsZero() {
			if n, _ := promQuery(t, web, retryExhausted); n >= 1 {
				stored = time.Now()
			}
		}
		evaluatedAfter := !stored.IsZero() && readsAfter(evaluations(t, web)[group], stored)
		active := alertsOf(t, web)
		for _, a := range active {
			if a.Labels["alertname"] == alert && a.Labels["service"] == service && a.State == "pending" {
				return true
			}
		}
		if evaluatedAfter {
			t.Fatalf("%s is not pending after an evaluation of %s over the stored outcome; active: %v", alert, group, active)
		}
		return false
	})
}

// groupOf names the rule group holding alert.
func groupOf(t *testing.T, groups []monitoringv1.RuleGroup, alert string) string {
	t.Helper()
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return g.Name
			}
		}
	}
	t.Fatalf("no rule group holds %s", alert)
	return ""
}

// writePromConfig writes dir/prometheus.yml: scrape the worker at admin
// with the labels the rules keep, and evaluate dir/rules.yaml.
func writePromConfig(t *testing.T, dir, admin string) {
	t.Helper()
	config := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: [rules.yaml]
scrape_configs:
  - job_name: opcancel
    static_configs:
      - targets: [%q]
        labels: {namespace: opcancel-e2e, pod: opcancel-e2e-worker}
`, e2eScrapeInterval, e2eEvalInterval, admin)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startPrometheus runs prom with dir's prometheus.yml until the test ends
// and waits until it is ready; it returns its address and output.
// Prometheus cannot be handed a listener and does not say which port it took
// for 127.0.0.1:0, so it gets a port free a moment ago; when another process
// took that port first, Prometheus exits saying so and starts again on
// another. Start-up has no bound of its own: the wait is the test's deadline.
func startPrometheus(t *testing.T, prom, dir string) (web string, out *syncBuffer) {
	t.Helper()
	for {
		web, out = unusedLoopbackAddr(t), &syncBuffer{}
		data, err := os.MkdirTemp(dir, "data")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path="+data, "--web.listen-address="+web)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// An exit ends the wait, and the request in flight: whoever took the
		// port may accept connections and never answer.
		ctx, cancel := context.WithCancel(context.Background())
		exited := make(chan struct{})
		var exit error
		go func() { exit = cmd.Wait(); cancel(); close(exited) }()
		t.Cleanup(func() { cmd.Process.Kill(); <-exited })
		waitFor(t, "Prometheus to be ready", untilDeadline(t), func() bool {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+web+"/-/ready", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return ctx.Err() != nil
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK || ctx.Err() != nil
		})
		if ctx.Err() == nil {
			return web, out
		}
		<-exited
		if !strings.Contains(out.String(), "address already in use") {
			t.Fatalf("prometheus exited at start-up: %v\n%s", exit, out)
		}
		t.Logf("%s was taken before Prometheus could listen on it; starting it on another port", web)
	}
}

// unusedLoopbackAddr returns a loopback address free a moment ago.
func unusedLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// evaluations returns, by rule group name, when the Prometheus at addr
// began the group's last evaluation that has ended.
func evaluations(t *testing.T, addr string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for _, s := range scrape(t, addr)["prometheus_rule_group_last_evaluation_timestamp_seconds"] {
		// The label is the rule file and the group's name.
		_, name, _ := strings.Cut(string(s.Metric["rule_group"]), ";")
		out[name] = time.UnixMilli(int64(float64(s.Value) * 1000))
	}
	return out
}

// readsAfter reports whether an evaluation that began at began read the
// data of after t. An evaluation reads the data at its slot, which precedes
// its start by less than the evaluation interval.
func readsAfter(began, t time.Time) bool { return began.After(t.Add(e2eEvalInterval)) }

// promAPI decodes the data of the answer to GET path (under /api/v1/) from
// the Prometheus at addr into data.
func promAPI(t *testing.T, addr, path string, data any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := struct {
		Status string `json:"status"`
		Data   any    `json:"data"`
	}{Data: data}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("/api/v1/%s: %v (%s)", path, err, body.Status)
	}
}

// promQuery returns the value of the instant query q, a single number, on
// the Prometheus at addr; ok is false when the result is empty.
func promQuery(t *testing.T, addr, q string) (v float64, ok bool) {
	t.Helper()
	var data struct {
		Result []struct {
			Value [2]any `json:"value"`
		} `json:"result"`
	}
	promAPI(t, addr, "query?query="+url.QueryEscape(q), &data)
	if len(data.Result) == 0 {
		return 0, false
	}
	s, _ := data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("query %s: value %q: %v", q, s, err)
	}
	return v, true
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alertsOf returns the active (pending or firing) alerts of the Prometheus
// at addr.
func alertsOf(t *testing.T, addr string) []promAlert {
	t.Helper()
	var data struct {
		Alerts []promAlert `json:"alerts"`
	}
	promAPI(t, addr, "alerts", &data)
	for i := range data.Alerts {
		data.Alerts[i].State = strings.ToLower(data.Alerts[i].State)
	}
	return data.Alerts
}
