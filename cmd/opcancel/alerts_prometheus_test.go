package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The real Prometheus check's settings: Prometheus scrapes and evaluates
// every second, and the worker gives up on a request after a second.
const (
	e2eScrapeInterval = time.Second
	e2eEvalInterval   = time.Second
	e2eRetryBudget    = time.Second
)

// TestPrometheusSeesAFailingAPI runs a real Prometheus (Debian's prometheus
// package) against a running worker whose API fails every request, with the
// kit's rules: OpcancelRetryExhausted goes pending for that service, and no
// other critical alert is active meanwhile.
func TestPrometheusSeesAFailingAPI(t *testing.T) {
	t.Parallel()
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus); .ci/run installs it")
	}
	groups := ruleGroups(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error": {"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable."}}`)
	}))
	defer api.Close()
	world := newPstestWorld(t, api.URL)
	admin, logs := world.start(t, "--retry-budget="+e2eRetryBudget.String())

	dir := t.TempDir()
	writeRuleFile(t, dir, groups)
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
	web := unusedLoopbackAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	// Start-up has no bound of its own.
	waitFor(t, "Prometheus to be ready", untilDeadline(t), func() bool { return status(web, "/-/ready") == http.StatusOK })

	world.publish(t, "operations/down-1", "operations/down-2", "operations/down-3")
	// A retry_exhausted outcome after the retry budget; the rate over two
	// scrapes; the recording rule and the alert over two evaluations. Ten
	// times that, for a loaded machine.
	within := 10 * (e2eRetryBudget + 2*e2eScrapeInterval + 2*e2eEvalInterval)
	var active []promAlert
	waitFor(t, "OpcancelRetryExhausted to go pending", within, func() bool {
		active = alertsOf(t, web)
		for _, a := range active {
			if a.Labels["alertname"] == "OpcancelRetryExhausted" && a.Labels["service"] == vaultHost && a.State == "pending" {
				return true
			}
		}
		return false
	})
	for _, a := range active {
		if a.Labels["severity"] == "critical" && a.Labels["alertname"] != "OpcancelRetryExhausted" {
			t.Errorf("a second critical alert for the same outage: %v (%s)", a.Labels, a.State)
		}
	}
	if t.Failed() {
		t.Logf("prometheus:\n%s\nworker:\n%s", out, logs)
	}
}

// unusedLoopbackAddr returns a loopback address free a moment ago, for
// Prometheus, which does not say which port it took for 127.0.0.1:0.
func unusedLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alertsOf returns the active (pending or firing) alerts of the Prometheus
// at addr.
func alertsOf(t *testing.T, addr string) []promAlert {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("/api/v1/alerts: %v (%s)", err, body.Status)
	}
	for i := range body.Data.Alerts {
		body.Data.Alerts[i].State = strings.ToLower(body.Data.Alerts[i].State)
	}
	return body.Data.Alerts
}
