package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"opcancel/queue"
)

// A running worker for the checks that need one: the opcancel binary on an
// in-process Pub/Sub (pstest), against one API for both built-in services,
// and what it shows on its admin address.

// pstestWorld is a pstest server with a request topic and the worker's
// subscription, and a services file that points both built-in services at
// one API.
type pstestWorld struct {
	ps                 *pstest.Server
	qc                 *queue.Client
	topic, sub, config string
}

func newPstestWorld(t *testing.T, apiURL string, opts ...pstest.ServerReactorOption) *pstestWorld {
	t.Helper()
	ctx := context.Background()
	w := &pstestWorld{ps: pstest.NewServer(opts...), topic: "projects/p/topics/requests", sub: "projects/p/subscriptions/worker"}
	t.Cleanup(func() { w.ps.Close() })
	var err error
	if w.qc, err = queue.NewClient(ctx, queue.ClientConfig{Project: "p", EmulatorHost: w.ps.Addr}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.qc.Close() })
	if err := w.qc.CreateTopic(ctx, w.topic); err != nil {
		t.Fatal(err)
	}
	if err := w.qc.CreateSubscription(ctx, w.sub, w.topic, time.Minute); err != nil {
		t.Fatal(err)
	}
	w.config = filepath.Join(t.TempDir(), "services.yaml")
	services := fmt.Sprintf("services:\n  - host: %s\n    endpoint: %s\n    patterns: [\"operations/**\"]\n"+
		"  - host: %s\n    endpoint: %s\n    patterns: [\"enterprises/*/devices/*/operations/*\"]\n", vaultHost, apiURL, amapiHost, apiURL)
	if err := os.WriteFile(w.config, []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// publish sends one request per name.
func (w *pstestWorld) publish(t *testing.T, names ...string) {
	t.Helper()
	pub := w.qc.Publisher(queue.PublishConfig{Topic: w.topic})
	defer pub.Stop()
	for _, n := range names {
		if _, err := pub.PublishAsync(context.Background(), []byte(n), nil).Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs `opcancel worker` with args on this world until the test
// ends, and returns its admin address, once it is ready, and its log. It
// listens on a port of its own choosing and names it in its start-up line.
func (w *pstestWorld) start(t *testing.T, args ...string) (admin string, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	cmd := exec.Command(binary(t), append([]string{"worker", "--auth=none", "--listen=127.0.0.1:0",
		"--subscription=" + w.sub, "--config=" + w.config}, args...)...)
	cmd.Env = []string{"PUBSUB_EMULATOR_HOST=" + w.ps.Addr}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exit error
	go func() { exit = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	waitFor(t, "the worker to be ready", untilDeadline(t), func() bool {
		select {
		case <-exited:
			t.Fatalf("worker exited at start: %v\n%s", exit, logs)
		default:
		}
		admin = adminAddr(logs)
		return admin != "" && status(admin, "/readyz") == http.StatusOK
	})
	return admin, logs
}

// adminAddr is the address a worker started with --listen=127.0.0.1:0
// serves /metrics on, from its start-up log line; "" until then.
func adminAddr(logs *syncBuffer) string {
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Message, Admin string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "worker starting" {
			return l.Admin
		}
	}
	return ""
}

// metric is what scrape returns: each family's samples.
type metric = map[string]model.Vector

// scrape reads the metrics at addr.
func scrape(t *testing.T, addr string) metric {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	out := metric{}
	for name, f := range fams {
		if out[name], err = expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// value sums the samples of family name whose labels include want; -1 when none.
func value(m metric, name string, want map[string]string) float64 {
	total, found := 0.0, false
	for _, s := range m[name] {
		match := true
		for k, v := range want {
			match = match && string(s.Metric[model.LabelName(k)]) == v
		}
		if match {
			total += float64(s.Value)
			found = true
		}
	}
	if !found {
		return -1
	}
	return total
}

// status is the HTTP status of GET addr+path, 0 when unreachable.
func status(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
