package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
	"opcancel/worker"
)

// demoKind is a kind of operation the demo's fake API plays, and the
// outcome it should end in.
type demoKind struct {
	name string
	want worker.Outcome
}

// demoKinds are the kinds, in the order of --mix's help.
var demoKinds = []demoKind{
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
		known := slices.ContainsFunc(demoKinds, func(d demoKind) bool { return d.name == k })
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
