package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"opcancel/internal/e2etest"
	"opcancel/queue/queuetest"
)

// Workers for the end-to-end tests, in process and as processes, and what
// they show on their admin address. Each listens on a port of its own
// choosing (--listen=127.0.0.1:0) and names it in its start-up log line.

var (
	// adminAddr is the address a worker started with --listen=127.0.0.1:0
	// serves /metrics on, from its start-up log line; "" until then.
	adminAddr = e2etest.AdminAddr
	// scrape reads the metrics at an address.
	scrape = e2etest.Scrape
	// value sums the samples of a family whose labels include the wanted
	// ones; -1 when none.
	value = e2etest.Value
	// status is the HTTP status of GET addr+path, 0 when unreachable.
	status = e2etest.Status
)

// metricFamilies is what scrape returns: the samples of each family, by name.
type metricFamilies = e2etest.Metrics

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

// process is a running opcancel binary (e2etest.Process, under the names
// this package's tests use).
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
	p := e2etest.StartWorker(t, env, args...)
	return &process{cmd: p.Cmd, admin: p.Admin, logs: p.Logs, done: p.Done}
}
