package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"opcancel/lro"
	"opcancel/metrics"
	"opcancel/worker"
)

// demoOperations scripts the fakes and returns the names to submit, the
// malformed messages, and the outcome count each service should end with.
// The valid names go to the enabled services in turn.
func demoOperations(counts map[string]int, fakes []demoFake, table *lro.Table) ([]givenName, []string, map[string]float64) {
	var names []givenName
	var invalid []string
	expected := map[string]float64{}
	n := 0
	for _, k := range mixKinds {
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
			if script := kindScript(k.name); script != nil {
				f.fake.Set(name, *script)
			}
			// The bare name when it routes alone; the full name otherwise.
			text := name
			if svc, err := table.Route("", name); err != nil || svc != f.svc {
				text = "//" + f.svc.Host + "/" + name
			}
			names = append(names, givenName{where: "demo", text: text})
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
