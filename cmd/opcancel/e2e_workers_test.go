package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"opcancel/queue/queuetest"
)

// Workers for the end-to-end tests, in process and as processes, and what
// they show on their admin address. Each listens on a port of its own
// choosing (--listen=127.0.0.1:0) and names it in its start-up log line.

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

// startWorker runs `opcancel worker` in-process with args (plus the
// emulator) until the returned stop is called; stop returns run's error.
func startWorker(t *testing.T, e *queuetest.Emulator, args ...string) (admin string, logs *syncBuffer, stop func() error) {
	t.Helper()
	return startWorkerWithTransport(t, e, nil, args...)
}

// startWorkerWithTransport is startWorker with the HTTP transport to the APIs
// replaced (nil: the real one), as the catalog tests need to reach fakes
// standing in for real hosts.
func startWorkerWithTransport(t *testing.T, e *queuetest.Emulator, transport http.RoundTripper, args ...string) (admin string, logs *syncBuffer, stop func() error) {
	t.Helper()
	logs = &syncBuffer{}
	env := &env{getenv: getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs}
	var c cli
	parser, err := newParser(&c, env, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"worker", "--auth=none", "--listen=127.0.0.1:0"}, args...)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Worker.run(ctx, env, workerHooks{transport: transport}) }()
	waitFor(t, "the worker to be ready", untilDeadline(t), func() bool {
		select {
		case err := <-errc:
			errc <- err // for stop
			t.Fatalf("worker stopped at start: %v\n%s", err, logs)
		default:
		}
		admin = adminAddr(logs)
		return admin != "" && status(admin, "/readyz") == 200
	})
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			runErr = <-errc
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return admin, logs, stop
}

// process is a running opcancel binary.
type process struct {
	cmd   *exec.Cmd
	admin string
	logs  *syncBuffer
	done  chan error // Wait's result, put back by whoever takes it
}

// startBinary starts `opcancel worker` with args, waits for readiness, and
// kills it at cleanup.
func startBinary(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{logs: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(binary(t), append([]string{"worker", "--listen=127.0.0.1:0"}, args...)...)
	p.cmd.Env = env
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); p.done <- <-p.done })
	waitFor(t, "the worker to be ready", untilDeadline(t), func() bool {
		select {
		case err := <-p.done:
			p.done <- err // for the cleanup
			t.Fatalf("worker exited at start: %v\n%s", err, p.logs)
		default:
		}
		p.admin = adminAddr(p.logs)
		return p.admin != "" && status(p.admin, "/readyz") == 200
	})
	return p
}

// metricFamilies is what scrape returns: the samples of each family, by name.
type metricFamilies = map[string]model.Vector

// scrape reads the metrics at addr.
func scrape(t *testing.T, addr string) metricFamilies {
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
	out := metricFamilies{}
	for name, f := range fams {
		if out[name], err = expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// value sums the samples of family name whose labels include want; -1 when none.
func value(m metricFamilies, name string, want map[string]string) float64 {
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
