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
// The valid names go to the enabled services in turn.
func demoOperations(counts map[string]int, fakes []demoFake, table *lro.Table) ([]line, []string, map[string]float64) {
	var names []line
	var invalid []string
	expected := map[string]float64{}
	n := 0
	for _, k := range demoKinds {
		for i := range counts[k.name] {
			if k.name == "invalid" {
				bad := []string{"operations/../../admin", "//169.254.169.254/computeMetadata/v1/x", `{"name": 42}`, "enterprises/e/devices/d", "operations/a b"}
				invalid = append(invalid, bad[i%len(bad)])
				expected[metrics.UnknownService+" "+string(k.want)]++
				continue
			}
			f := fakes[n%len(fakes)]
			n++
			name := demoName(f.svc, fmt.Sprintf("%s-%d", k.name, i))
			if script := demoScript(k.name); script != nil {
				f.fake.Set(name, *script)
			}
			// The bare name when it routes alone; the full name otherwise.
			text := name
			if svc, err := table.Route("", name); err != nil || svc != f.svc {
				text = "//" + f.svc.Host + "/" + name
			}
			names = append(names, line{where: "demo", text: text})
			want := k.want
			if !f.svc.Readable(name) && (want == worker.Cancelled || want == worker.Completed) {
				want = worker.Unverified // the API cannot read its operations
			}
			expected[f.svc.Host+" "+string(want)]++
		}
	}
	rand.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	return names, invalid, expected
}

// demoName is an operation name of the service ending in id, made from its
// first pattern whose operations can be read: each wildcard a segment.
func demoName(svc *lro.Service, id string) string {
	pattern := svc.Routes[0].Pattern.String()
	for _, r := range svc.Routes {
		if !r.NoGet {
			pattern = r.Pattern.String()
			break
		}
	}
	segs := strings.Split(pattern, "/")
	last := -1
	for j, seg := range segs {
		switch {
		case seg == "*" && j > 0 && segs[j-1] == "locations":
			segs[j] = "us-central1"
		case seg == "*" || seg == "**":
			segs[j], last = fmt.Sprintf("demo%d", j), j
		}
	}
	if last >= 0 {
		segs[last] = id
	}
	return strings.Join(segs, "/")
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
