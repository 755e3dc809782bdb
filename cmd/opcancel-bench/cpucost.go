package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/sync/errgroup"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/worker"
)

// cpuCost: zero-latency API on loopback sockets, in-memory source; CPU per
// job of opcancel against a minimal loop (decode, POST cancel, GET, ack) in
// the same run, against the same server. Rounds of each alternate and the
// medians are compared, which keeps a noisy machine from deciding the ratio.
func cpuCost(ctx context.Context) (*result, error) {
	const (
		rounds = 5
		jobs   = 8000 // per round
	)
	fake := lrotest.New(lrotest.Options{DontRecord: true, Default: doneAtFirstPoll})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	transport := lro.NewTransport(64)
	base := baseline{client: &http.Client{Transport: transport}, url: srv.URL}
	cfg := worker.DefaultConfig()
	cfg.MaxOutstanding = 5000
	r, err := newRig(cfg, lrotest.ServicesYAML(lrotest.AllAt(srv.URL), nil), transport)
	if err != nil {
		return nil, err
	}
	defer r.w.Close()

	var baseCPU, opCPU, baseWall, opWall []float64
	for round := range rounds {
		bc, bw, err := base.run(ctx, round, jobs)
		if err != nil {
			return nil, err
		}
		oc, ow := runOpcancel(ctx, r, round, jobs, cfg.MaxOutstanding)
		baseCPU = append(baseCPU, float64(bc.Microseconds())/jobs)
		opCPU = append(opCPU, float64(oc.Microseconds())/jobs)
		baseWall = append(baseWall, jobs/bw.Seconds())
		opWall = append(opWall, jobs/ow.Seconds())
	}
	if n := testutil.ToFloat64(r.m.Jobs.WithLabelValues("vault.googleapis.com", "cancelled")); n != rounds*jobs {
		return nil, fmt.Errorf("only %v of %d jobs cancelled", n, rounds*jobs)
	}
	perJob, basePerJob := median(opCPU), median(baseCPU)
	res := &result{Value: perJob, Unit: "cpu_us/job", Bound: basePerJob, Ratio: perJob / basePerJob, Target: 1.25}
	res.Pass = res.Ratio <= res.Target
	res.add("jobs", rounds*jobs)
	res.add("jobs_per_s", median(opWall))
	res.add("baseline_jobs_per_s", median(baseWall))
	res.add("rounds_cpu_us_per_job", opCPU)
	res.add("baseline_rounds_cpu_us_per_job", baseCPU)
	res.add("note", "medians of 5 alternating rounds; both include the fake API server's CPU (same process, loopback HTTP/1.1); opcancel's jobs wait ~1 s for their poll, so its wall-clock rate is bounded by --max-outstanding 5000")
	return res, nil
}

// runOpcancel feeds jobs to the worker of r and returns the CPU and wall
// time they took.
func runOpcancel(ctx context.Context, r *rig, round, jobs, maxOutstanding int) (cpu, wall time.Duration) {
	runtime.GC()
	cpu0, t0 := cpuTime(), time.Now()
	var c completions
	r.feed(ctx, jobs, maxOutstanding, func(i int) string {
		return fmt.Sprintf(`{"name":"operations/op-%d"}`, round*jobs+i)
	}, &c)
	return cpuTime() - cpu0, time.Since(t0)
}

// baseline is the minimal loop cpuCost compares opcancel with: 64
// goroutines, each decoding a message, sending the cancel and the get,
// decoding the operation, and acking.
type baseline struct {
	client *http.Client
	url    string // the fake API's
}

// run runs one round of jobs and returns the CPU and wall time they took,
// and the first failure.
func (b baseline) run(ctx context.Context, round, jobs int) (cpu, wall time.Duration, err error) {
	runtime.GC()
	cpu0, t0 := cpuTime(), time.Now()
	next := make(chan int)
	var g errgroup.Group
	for range 64 {
		g.Go(func() error {
			var first error
			for i := range next {
				if err := b.job(ctx, i); err != nil && first == nil {
					first = err
				}
			}
			return first
		})
	}
	for i := range jobs {
		next <- round*jobs + i
	}
	close(next)
	err = g.Wait()
	return cpuTime() - cpu0, time.Since(t0), err
}

// job is the minimal loop's work for job i.
func (b baseline) job(ctx context.Context, i int) error {
	var msg struct {
		Name string `json:"name"`
	}
	data := fmt.Appendf(nil, `{"name":%q}`, fmt.Sprintf("operations/base-%d", i))
	if err := json.Unmarshal(data, &msg); err != nil {
		return err
	}
	resp, err := b.send(ctx, http.MethodPost, "/v1/"+msg.Name+":cancel")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp, err = b.send(ctx, http.MethodGet, "/v1/"+msg.Name); err != nil {
		return err
	}
	var op struct {
		Done bool `json:"done"`
	}
	err = json.NewDecoder(resp.Body).Decode(&op)
	resp.Body.Close()
	if err != nil || !op.Done {
		return fmt.Errorf("baseline: %v %v", err, op.Done)
	}
	ack := func() error { return nil }
	return ack()
}

// send sends one request to the fake API.
func (b baseline) send(ctx context.Context, method, path string) (*http.Response, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, body)
	if err != nil {
		return nil, err
	}
	return b.client.Do(req)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
