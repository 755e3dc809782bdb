// Command opcancel-bench measures opcancel against its performance targets
// and prints one JSON line per scenario:
//
//	{"scenario": NAME, "value": X, "unit": U, "bound": B, "ratio": X/B,
//	 "target": T, "pass": BOOL, ...other figures}
//
// go run ./cmd/opcancel-bench runs them all (about twenty minutes on two
// cores); -scenario NAME runs one. The scenarios drive the real worker
// against lro/lrotest fakes; emulator_e2e, backlog, backlog_drain, flood
// and held_messages also need the official Pub/Sub emulator.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// result is one scenario's figures.
type result struct {
	Scenario string
	Value    float64
	Unit     string
	Bound    float64
	Ratio    float64
	Target   float64
	Pass     bool
	// Extra holds other figures, in insertion order.
	Extra [][2]any
}

func (r *result) add(key string, v any) { r.Extra = append(r.Extra, [2]any{key, v}) }

func (r *result) has(key string) bool {
	for _, kv := range r.Extra {
		if kv[0] == key {
			return true
		}
	}
	return false
}

// MarshalJSON keeps the contract's key order.
func (r result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(k string, v any) {
		if b.Len() > 1 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(v)
		if err != nil {
			vb, _ = json.Marshal(fmt.Sprint(v))
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
	}
	field("scenario", r.Scenario)
	field("value", round(r.Value))
	field("unit", r.Unit)
	field("bound", round(r.Bound))
	field("ratio", round(r.Ratio))
	field("target", r.Target)
	field("pass", r.Pass)
	for _, kv := range r.Extra {
		v := kv[1]
		if f, ok := v.(float64); ok {
			v = round(f)
		}
		field(kv[0].(string), v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func round(f float64) float64 {
	if f != f {
		return 0
	}
	return float64(int64(f*1000+0.5)) / 1000
}

// scenario is one benchmark; it prints a line per result, most one.
type scenario struct {
	name string
	run  func(ctx context.Context) ([]*result, error)
}

// one adapts a scenario of one result.
func one(f func(ctx context.Context) (*result, error)) func(ctx context.Context) ([]*result, error) {
	return func(ctx context.Context) ([]*result, error) {
		r, err := f(ctx)
		return []*result{r}, err
	}
}

var scenarios = []scenario{
	{"latency_bound", one(latencyBound)},
	{"cpu_cost", one(cpuCost)},
	{"held_jobs", one(heldJobs)},
	{"rate_limit", one(rateLimit)},
	{"quota_storm", one(quotaStorm)},
	{"emulator_e2e", one(emulatorE2E)},
	{"isolation", one(isolation)},
	{"backlog", one(backlog)},
	{"backlog_drain", one(backlogDrain)},
	{"flood", flood},
	{"held_messages", one(heldMessages)},
	{"fleet", fleets},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "opcancel-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("opcancel-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("scenario", "", "run only this scenario: "+strings.Join(names(), ", "))
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the run to this file")
	fs.IntVar(&drain.names, "drain-names", drain.names, "backlog_drain: names in the backlog")
	fs.DurationVar(&drain.latency, "drain-latency", drain.latency, "backlog_drain: the API's latency")
	fs.DurationVar(&drain.lease, "drain-lease-extension", drain.lease, "backlog_drain: the worker's --lease-extension (0: its default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stopProfiles, err := startProfiles(*cpuprofile, *memprofile)
	if err != nil {
		return err
	}
	defer stopProfiles()
	if *only != "" && !slices.Contains(names(), *only) {
		return fmt.Errorf("-scenario %q: want one of %s", *only, strings.Join(names(), ", "))
	}
	failed := 0
	for _, s := range scenarios {
		if *only != "" && s.name != *only {
			continue
		}
		start := time.Now()
		rs, err := s.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		for _, r := range rs {
			r.Scenario = s.name
			if !r.has("seconds") { // a scenario of several results times each
				r.add("seconds", time.Since(start).Seconds())
			}
			line, _ := json.Marshal(r)
			fmt.Fprintln(stdout, string(line))
			if !r.Pass {
				failed++
			}
		}
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "%d scenario(s) short of target\n", failed)
	}
	return nil
}

// startProfiles starts the CPU profile into cpu and the allocation
// profile into mem (none for an empty name); the function returned writes
// them.
func startProfiles(cpu, mem string) (func(), error) {
	var stops []func()
	stop := func() {
		for _, s := range slices.Backward(stops) {
			s()
		}
	}
	if cpu != "" {
		f, err := os.Create(cpu)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if mem != "" {
		runtime.MemProfileRate = 4096
		stops = append(stops, func() {
			if f, err := os.Create(mem); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	return stop, nil
}

func names() []string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.name)
	}
	return n
}
