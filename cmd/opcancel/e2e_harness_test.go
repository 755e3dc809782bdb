package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/pubsub/v2"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// The shared helpers of this package's tests: the emulator and the binary
// (started once per test binary), fake APIs, Pub/Sub resources and the CLI.
// Workers are started by workers_test.go; waits are bounded by bounds_test.go.

var (
	emuOnce sync.Once
	emu     *queuetest.Emulator
	emuErr  error

	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// e2eParallel is how many tests run at once unless -parallel says otherwise.
// The end-to-end tests spend their time waiting on real time (outages, lease
// lapses, shutdown timeouts), not on the CPU, so go test's default of one
// test per core would make the suite as long as the sum of those waits.
const e2eParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(e2eParallel, runtime.GOMAXPROCS(0))))
	}
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
	emuOnce.Do(func() {
		// Start-up has no bound of its own.
		ctx, cancel := context.WithTimeout(context.Background(), untilDeadline(t))
		defer cancel()
		emu, emuErr = queuetest.Start(ctx)
	})
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

// binary builds opcancel once for the tests that need a real process, with
// -race when the tests run with it.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "opcancel-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "opcancel")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
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

func newFakeAPIs(t *testing.T, vaultOpts, amapiOpts lrotest.Options, vaultExtra string) *fakeAPIs {
	t.Helper()
	f := &fakeAPIs{vault: lrotest.New(vaultOpts), amapi: lrotest.New(amapiOpts)}
	vs, as := httptest.NewServer(f.vault), httptest.NewServer(f.amapi)
	t.Cleanup(vs.Close)
	t.Cleanup(as.Close)
	f.config = filepath.Join(t.TempDir(), "services.yaml")
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: vs.URL, amapiHost: as.URL}, map[string]string{vaultHost: vaultExtra})
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

// message is a request to publish.
type message struct {
	data  string
	attrs map[string]string
}

// publish publishes messages to the topic and waits for the emulator's answers.
func publish(t *testing.T, e *queuetest.Emulator, topic string, msgs ...message) {
	t.Helper()
	p := e.Client.Publisher(topic)
	defer p.Stop()
	var results []*pubsub.PublishResult
	for _, m := range msgs {
		results = append(results, p.Publish(context.Background(), &pubsub.Message{Data: []byte(m.data), Attributes: m.attrs}))
	}
	for _, r := range results {
		if _, err := r.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
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

func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, getenvFrom(env), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exitCode(err), err
}

// events collects result events by operation name from a results subscription.
type events struct {
	mu     sync.Mutex
	byName map[string][]map[string]any
	total  int
}

func (ev *events) pull(t *testing.T, e *queuetest.Emulator, sub string) {
	t.Helper()
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.byName == nil {
		ev.byName = map[string][]map[string]any{}
	}
	for _, m := range msgs {
		var f map[string]any
		if err := json.Unmarshal(m.Message.Data, &f); err != nil {
			t.Fatalf("event %q: %v", m.Message.Data, err)
		}
		name, _ := f["name"].(string)
		ev.byName[name] = append(ev.byName[name], f)
		ev.total++
	}
}

func (ev *events) names() int {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return len(ev.byName)
}
