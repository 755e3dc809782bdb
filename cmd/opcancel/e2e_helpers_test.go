package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

var (
	emuOnce sync.Once
	emu     *queuetest.Emulator
	emuErr  error

	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if emu != nil {
		emu.Stop()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// emulator returns the test binary's shared emulator, skipping the test
// when the emulator is not installed.
func emulator(t *testing.T) *queuetest.Emulator {
	t.Helper()
	if _, err := queuetest.Binary(); err != nil {
		t.Skip(err)
	}
	emuOnce.Do(func() { emu, emuErr = queuetest.Start(context.Background()) })
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

// binary builds opcancel once for the tests that need a real process.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "opcancel-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "opcancel")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// fakeAPIs serves the two built-in services from two separate fake hosts on
// loopback sockets, and writes a services file pointing at them.
type fakeAPIs struct {
	vault, amapi *lrotest.Server
	config       string
}

func newFakeAPIs(t *testing.T, vaultOpts, amapiOpts lrotest.Options, extra string) *fakeAPIs {
	t.Helper()
	f := &fakeAPIs{vault: lrotest.New(vaultOpts), amapi: lrotest.New(amapiOpts)}
	vs := httptest.NewServer(f.vault)
	as := httptest.NewServer(f.amapi)
	t.Cleanup(vs.Close)
	t.Cleanup(as.Close)
	f.config = filepath.Join(t.TempDir(), "services.yaml")
	yaml := fmt.Sprintf(`services:
  - host: vault.googleapis.com
    endpoint: %s
    patterns: ["operations/**"]
    scopes: ["https://www.googleapis.com/auth/ediscovery"]
%s  - host: androidmanagement.googleapis.com
    endpoint: %s
    patterns: ["enterprises/*/devices/*/operations/*"]
    scopes: ["https://www.googleapis.com/auth/androidmanagement"]
`, vs.URL, extra, as.URL)
	if err := os.WriteFile(f.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// pubsubSetup is a topic, a worker subscription and optionally a results
// topic with a subscription to read the events back.
type pubsubSetup struct {
	project, topic, sub, results, resultsSub string
}

var nameSeq struct {
	sync.Mutex
	n int
}

// uniqueName returns a Pub/Sub-valid name unique within the test binary.
func uniqueName(prefix string) string {
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d", prefix, nameSeq.n)
}

func newPubsub(t *testing.T, e *queuetest.Emulator, o queuetest.SubscriptionOptions, withResults bool) pubsubSetup {
	t.Helper()
	ctx := context.Background()
	p := pubsubSetup{project: "proj-" + strings.ToLower(uniqueName("e2e"))}
	var err error
	if p.topic, p.sub, err = e.TopicAndSubscription(ctx, p.project, "requests", "worker", o); err != nil {
		t.Fatal(err)
	}
	if withResults {
		if p.results, p.resultsSub, err = e.TopicAndSubscription(ctx, p.project, "results", "results-reader", queuetest.SubscriptionOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// publish publishes messages (data, attributes) to the topic and waits.
func publish(t *testing.T, e *queuetest.Emulator, topic string, msgs ...message) {
	t.Helper()
	p := e.Client.Publisher(topic)
	defer p.Stop()
	var results []interface {
		Get(context.Context) (string, error)
	}
	for _, m := range msgs {
		results = append(results, p.Publish(context.Background(), m.pubsub()))
	}
	for _, r := range results {
		if _, err := r.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrape reads the metrics at addr.
func scrape(t *testing.T, addr string) map[string]*dtoFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	return parseMetrics(t, resp.Body)
}

type dtoFamily = model.Vector

func parseMetrics(t *testing.T, r io.Reader) map[string]*dtoFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	out := map[string]*dtoFamily{}
	for name, f := range fams {
		v, err := expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, f)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = &v
	}
	return out
}

// value returns the sample of family name whose labels include want.
func value(fams map[string]*dtoFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	total := 0.0
	found := false
	for _, s := range *f {
		match := true
		for k, v := range want {
			if string(s.Metric[model.LabelName(k)]) != v {
				match = false
				break
			}
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

// waitFor polls cond every 100 ms until it holds or the deadline passes.
// End-to-end tests drive real processes, which no fake clock can reach.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
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

// getenvFrom makes a getenv from a map.
func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// message is a request to publish.
type message struct {
	data  string
	attrs map[string]string
}

func (m message) pubsub() *pubsub.Message {
	return &pubsub.Message{Data: []byte(m.data), Attributes: m.attrs}
}

// startWorker runs `opcancel worker` in-process with args (plus the
// emulator) until the returned stop is called; stop returns run's error.
func startWorker(t *testing.T, e *queuetest.Emulator, args ...string) (admin string, logs *syncBuffer, stop func() error) {
	t.Helper()
	admin = freeAddr(t)
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	go func() {
		errc <- run(ctx, append([]string{"worker", "--auth=none", "--listen=" + admin}, args...), getenvFrom(env), strings.NewReader(""), io.Discard, logs)
	}()
	waitFor(t, "the worker to be ready", 30*time.Second, func() bool {
		select {
		case err := <-errc:
			errc <- err
			return true
		default:
		}
		resp, err := http.Get("http://" + admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	select {
	case err := <-errc:
		t.Fatalf("worker stopped at start: %v\n%s", err, logs)
	default:
	}
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
