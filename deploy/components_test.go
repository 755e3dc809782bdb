package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// withComponent writes a kustomization that adds the kit's component to
// the kit's overlay, as an operator adds it, and returns its directory.
func withComponent(t *testing.T, overlay, component string) string {
	t.Helper()
	dir := t.TempDir()
	rel := func(p string) string {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := filepath.Rel(dir, abs)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	k := fmt.Sprintf("resources:\n  - %s\ncomponents:\n  - %s\n", rel(overlay), rel(component))
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
