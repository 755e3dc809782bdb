package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/schollz/progressbar/v3"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
	"opcancel/queue"
	"opcancel/worker"
)

// demoCmd is `opcancel demo`: everything in one process on embedded fakes.
type demoCmd struct {
	Count    int           `default:"200" help:"How many cancel requests to publish."`
	Mix      string        `default:"cancelled=60,completed=10,unimplemented=8,transient=12,not_found=5,invalid=5" help:"Relative weights of the kinds of operation: cancelled, completed (finishes despite the cancel), unimplemented, transient (503 with RetryInfo, then cancelled), not_found, invalid (malformed messages)."`
	Latency  time.Duration `default:"20ms" help:"Latency of every answer of the fake API."`
	Listen   string        `help:"Keep /metrics, /healthz and /readyz up at this address after the run, until interrupted (default: a free port, closed at the end)."`
	LogLevel string        `default:"error" enum:"debug,info,warn,error" help:"Level of the worker's JSON log on stderr (info shows one line per outcome)."`
	Timeout  time.Duration `default:"60s" help:"Give up if the outcomes are not all in by then."`
}

// demoKinds are the kinds of operation the demo's fake API plays, and the
// outcome each should end in.
var demoKinds = []struct {
	name string
	want worker.Outcome
}{
	{"cancelled", worker.Cancelled},
	{"completed", worker.Completed},
	{"unimplemented", worker.Unimplemented},
	{"transient", worker.Cancelled},
	{"not_found", worker.NotFound},
	{"invalid", worker.Invalid},
}

// parseMix parses "kind=weight,..." into counts that add up to count.
func parseMix(mix string, count int) (map[string]int, error) {
	weights := map[string]int{}
	total := 0
	for _, part := range strings.Split(mix, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		w, err := strconv.Atoi(v)
		known := slices.ContainsFunc(demoKinds, func(d struct {
			name string
			want worker.Outcome
		}) bool {
			return d.name == k
		})
		if !ok || err != nil || w < 0 || !known {
			return nil, usagef("--mix %q: want kind=weight,... with kinds cancelled, completed, unimplemented, transient, not_found, invalid and weights >= 0", part)
		}
		weights[k] += w
		total += w
	}
	if total == 0 {
		return nil, usagef("--mix %q: the weights add up to 0", mix)
	}
	counts := map[string]int{}
	assigned := 0
	for _, d := range demoKinds {
		counts[d.name] = count * weights[d.name] / total
		assigned += counts[d.name]
	}
	// The rounding remainder goes to the heaviest kind.
	heaviest := demoKinds[0].name
	for _, d := range demoKinds {
		if weights[d.name] > weights[heaviest] {
			heaviest = d.name
		}
	}
	counts[heaviest] += count - assigned
	return counts, nil
}

func (c *demoCmd) Run(ctx context.Context, e *env) error {
	if c.Count < 1 || c.Count > 100000 {
		return usagef("--count %d: want 1 to 100000", c.Count)
	}
	counts, err := parseMix(c.Mix, c.Count)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "opcancel-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// An embedded Pub/Sub, reached the way an emulator is.
	ps := pstest.NewServer()
	defer ps.Close()
	const project = "opcancel-demo"
	denv := &env{stdin: e.stdin, stdout: e.stdout, stderr: e.stderr, getenv: func(k string) string {
		if k == "PUBSUB_EMULATOR_HOST" {
			return ps.Addr
		}
		return ""
	}}
	qc, err := queue.NewClient(ctx, queue.ClientConfig{Project: project, EmulatorHost: ps.Addr})
	if err != nil {
		return err
	}
	defer qc.Close()
	topic, sub, results := "projects/"+project+"/topics/requests", "projects/"+project+"/subscriptions/worker", "projects/"+project+"/topics/results"
	for _, t := range []string{topic, results} {
		if _, err := qc.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: t}); err != nil {
			return fmt.Errorf("demo pubsub: %w", err)
		}
	}
	if _, err := qc.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 60}); err != nil {
		return fmt.Errorf("demo pubsub: %w", err)
	}

	// Embedded fake APIs, one per built-in service, on loopback sockets.
	vault, amapi := lrotest.New(lrotest.Options{Latency: c.Latency}), lrotest.New(lrotest.Options{Latency: c.Latency})
	vs, as := httptest.NewServer(vault), httptest.NewServer(amapi)
	defer vs.Close()
	defer as.Close()
	config := filepath.Join(dir, "services.yaml")
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{"vault.googleapis.com": vs.URL, "androidmanagement.googleapis.com": as.URL}, nil)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		return err
	}
	names, invalid, expected := demoOperations(counts, vault, amapi)

	// The real worker wiring, as `opcancel worker` runs it.
	ln, err := net.Listen("tcp", orDefault(c.Listen, "127.0.0.1:0"))
	if err != nil {
		return fmt.Errorf("--listen %s: %w", c.Listen, err)
	}
	wc := workerCmd{
		Subscription: sub, ResultsTopic: results, Config: config, Auth: lro.AuthNone,
		Concurrency: 64, MaxOutstanding: 1000, VerifyTimeout: 30 * time.Second, RetryBudget: 30 * time.Second,
		ShutdownTimeout: 5 * time.Second, RequestTimeout: 10 * time.Second, LogLevel: c.LogLevel,
	}
	started := make(chan net.Addr, 1)
	wctx, stopWorker := context.WithCancel(ctx)
	defer stopWorker()
	werr := make(chan error, 1)
	go func() {
		werr <- wc.run(wctx, denv, workerHooks{listener: ln, started: func(a net.Addr) { started <- a }})
	}()
	var admin net.Addr
	select {
	case admin = <-started:
	case err := <-werr:
		return fmt.Errorf("demo worker: %w", err)
	}
	fmt.Fprintf(e.stdout, "opcancel demo: %d cancel requests on an embedded Pub/Sub and fake APIs (metrics at http://%s/metrics)\n", c.Count, admin)

	// Submit the valid names through submit's path; malformed messages go
	// straight to the topic, as a misbehaving publisher's would.
	pub := qc.Publisher(queue.PublishConfig{Topic: topic, CountThreshold: 1000})
	sum, err := submit(ctx, submission{table: mustTable(config), pub: pub, lines: names, batch: newBatchID(time.Now()), reason: "demo", stderr: e.stderr})
	for _, raw := range invalid {
		if _, perr := pub.PublishAsync(ctx, []byte(raw), nil).Get(ctx); perr != nil && err == nil {
			err = perr
		}
	}
	pub.Stop()
	if err != nil {
		return fmt.Errorf("demo submit: %w", err)
	}
	fmt.Fprintf(e.stdout, "submitted: %s; plus %d malformed messages\n", sum, len(invalid))

	got, err := c.await(ctx, e, admin, c.Count)
	if err != nil {
		stopWorker()
		<-werr
		return err
	}
	ok := printTable(e.stdout, got, expected)
	if c.Listen != "" {
		fmt.Fprintf(e.stdout, "metrics stay up at http://%s/metrics; interrupt (Ctrl-C) to exit\n", admin)
		<-ctx.Done()
	}
	stopWorker()
	if err := <-werr; err != nil {
		return fmt.Errorf("demo worker: %w", err)
	}
	if !ok {
		return errors.New("demo: the outcomes differ from what the fake API was scripted to produce")
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func mustTable(config string) *lro.Table {
	t, err := lro.LoadTable(config, lro.FileOptions{})
	if err != nil {
		panic(err) // the demo wrote this file a moment ago
	}
	return t
}

// demoOperations scripts the fakes and returns the names to submit, the
// malformed messages, and the outcome count each service should end with.
func demoOperations(counts map[string]int, vault, amapi *lrotest.Server) ([]line, []string, map[string]float64) {
	var names []line
	var invalid []string
	expected := map[string]float64{}
	n := 0
	for _, k := range demoKinds {
		for i := range counts[k.name] {
			n++
			if k.name == "invalid" {
				bad := []string{"operations/../../admin", "//169.254.169.254/computeMetadata/v1/x", `{"name": 42}`, "enterprises/e/devices/d", "operations/a b"}
				invalid = append(invalid, bad[i%len(bad)])
				expected[metrics.UnknownService+" "+string(k.want)]++
				continue
			}
			name, host, fake := fmt.Sprintf("operations/demo-%s-%d", k.name, i), "vault.googleapis.com", vault
			if n%2 == 0 {
				name, host, fake = fmt.Sprintf("enterprises/demo/devices/d%d/operations/%s-%d", i%7, k.name, i), "androidmanagement.googleapis.com", amapi
			}
			if script := demoScript(k.name); script != nil {
				fake.Set(name, *script)
			}
			names = append(names, line{where: "demo", text: name})
			expected[host+" "+string(k.want)]++
		}
	}
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names, invalid, expected
}

// demoScript is how the fake API plays an operation of a kind; nil means the
// operation does not exist.
func demoScript(kind string) *lrotest.Script {
	var script lrotest.Script
	switch kind {
	case "not_found", "invalid":
		return nil
	case "completed":
		script.Final = lrotest.Completed
	case "unimplemented":
		script.Cancel = []lrotest.Answer{lrotest.Err(lro.Unimplemented, "Operation cancellation is not supported.")}
	case "transient":
		script.Cancel = []lrotest.Answer{lrotest.Unavailable(time.Second), {}}
	}
	return &script
}

// await scrapes the worker's /metrics until count outcomes are in, showing
// progress, and returns the outcome counters by "service outcome".
func (c *demoCmd) await(ctx context.Context, e *env, admin net.Addr, count int) (map[string]float64, error) {
	var bar *progressbar.ProgressBar
	if isTerminal(e.stderr) {
		bar = progressbar.NewOptions(count, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("outcomes"),
			progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	deadline := time.NewTimer(c.Timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastShown := time.Now()
	for {
		got, err := scrapeOutcomes("http://" + admin.String() + "/metrics")
		if err != nil {
			return nil, err
		}
		done := 0.0
		for _, v := range got {
			done += v
		}
		switch {
		case bar != nil:
			bar.Set(int(done))
		case time.Since(lastShown) >= time.Second || int(done) >= count:
			fmt.Fprintf(e.stderr, "outcomes: %d/%d\n", int(done), count)
			lastShown = time.Now()
		}
		if int(done) >= count {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline.C:
			printTable(e.stdout, got, nil)
			return nil, fmt.Errorf("demo: only %d of %d outcomes after %s", int(done), count, c.Timeout)
		case <-tick.C:
		}
	}
}

// scrapeOutcomes reads opcancel_jobs_total from a /metrics endpoint.
func scrapeOutcomes(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	got := map[string]float64{}
	if f, ok := fams["opcancel_jobs_total"]; ok {
		for _, m := range f.GetMetric() {
			var service, outcome string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "service":
					service = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			if v := m.GetCounter().GetValue(); v > 0 {
				got[service+" "+outcome] = v
			}
		}
	}
	return got, nil
}

// printTable prints the outcomes per service, with the expected counts when
// given, and reports whether they match.
func printTable(w io.Writer, got, expected map[string]float64) bool {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range expected {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "service\toutcome\tcount\texpected\t")
	ok := true
	var total, totalExp float64
	for _, k := range sorted {
		service, outcome, _ := strings.Cut(k, " ")
		exp := "-"
		if expected != nil {
			exp = strconv.FormatFloat(expected[k], 'f', 0, 64)
			ok = ok && got[k] == expected[k]
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t\n", service, outcome, got[k], exp)
		total += got[k]
		totalExp += expected[k]
	}
	fmt.Fprintf(tw, "total\t\t%.0f\t%.0f\t\n", total, totalExp)
	tw.Flush()
	if expected != nil {
		if ok {
			fmt.Fprintln(w, "every outcome is as the fake API was scripted (counts read from /metrics)")
		} else {
			fmt.Fprintln(w, "MISMATCH: some outcomes differ from the script")
		}
	}
	return ok
}
