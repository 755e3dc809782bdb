package main

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/worker"
)

// mixKind is a kind of operation the fake API plays (the demo's, and
// fake-api's), and the outcome it should end in. --mix weighs the kinds.
type mixKind struct {
	name string
	want worker.Outcome
}

// mixKinds are the kinds, in the order of --mix's help.
var mixKinds = []mixKind{
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
		known := slices.ContainsFunc(mixKinds, func(d mixKind) bool { return d.name == k })
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
	for _, d := range mixKinds {
		counts[d.name] = count * weights[d.name] / total
		assigned += counts[d.name]
	}
	// The rounding remainder goes to the heaviest kind.
	heaviest := mixKinds[0].name
	for _, d := range mixKinds {
		if weights[d.name] > weights[heaviest] {
			heaviest = d.name
		}
	}
	counts[heaviest] += count - assigned
	return counts, nil
}

// kindScript is how the fake API plays an operation of a kind; nil means
// the operation does not exist.
func kindScript(kind string) *lrotest.Script {
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
