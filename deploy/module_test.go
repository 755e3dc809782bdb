package deploy

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// kitOnly are the modules only these tests use, and kitTrees those of them
// that bring large trees of their own (the Kubernetes and Prometheus
// Operator types).
var (
	kitOnly  = []string{"k8s.io/", "sigs.k8s.io/", "github.com/prometheus-operator/", "github.com/moby/patternmatcher", "cloud.google.com/go/monitoring"}
	kitTrees = []string{"k8s.io/", "sigs.k8s.io/", "github.com/prometheus-operator/"}
)

// TestTheDaemonsModuleLeavesOutTheKitsDependencies: the daemon's module
// (the repository's root) requires none of the modules only the kit's
// tests use, and its module graph holds no Kubernetes or Prometheus
// Operator module, so that `go install opcancel/cmd/opcancel` never
// downloads them.
func TestTheDaemonsModuleLeavesOutTheKitsDependencies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "mod", "graph")
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod graph: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		from, to, _ := strings.Cut(line, " ")
		if from == "opcancel" && startsWithAny(to, kitOnly) {
			t.Errorf("the daemon's module requires %s, which only the kit's tests use", to)
		}
		if startsWithAny(from, kitTrees) || startsWithAny(to, kitTrees) {
			t.Errorf("the daemon's module graph holds %s", line)
		}
	}
}

func startsWithAny(s string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
}
