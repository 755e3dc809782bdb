// These tests decode 91 MB of discovery documents in one goroutine: the race
// detector finds nothing there and makes them take 15 to 70 s instead of 5,
// so they are built without it; .ci/run runs them on their own.

//go:build !race

package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/lro"
)

// The catalog checked in is the one the discovery documents of go.mod's
// google.golang.org/api make.
func TestCatalogIsUpToDate(t *testing.T) {
	t.Parallel()
	dir, version, err := moduleDir(apiModule)
	if err != nil {
		t.Fatal(err)
	}
	src, err := generate(dir, apiModule+" "+version)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../catalog_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, committed) {
		t.Errorf("lro/catalog_gen.go is not what %s %s generates; run go generate ./lro", apiModule, version)
	}
}

// The catalog lists every API version whose discovery document has an
// operations resource with a cancel method, and one route per such method,
// counted here by walking every document's resources, apart from the
// generator. An operations
// resource is named "operations" or ends in "Operations"
// (storagetransfer's transferOperations); a cancel on another resource
// (jobs, builds) cancels something that is not an operation.
func TestCatalogCountsMatchTheDocuments(t *testing.T) {
	t.Parallel()
	dir, version, err := moduleDir(apiModule)
	if err != nil {
		t.Fatal(err)
	}
	versions, methods := 0, 0
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "testdata" || d.Name() == "internal"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, "-api.json"):
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(data, []byte(`"cancel"`)) {
			return err // no cancel method in a document without the word
		}
		var doc struct {
			Resources map[string]plainResource `json:"resources"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		if n := countCancels(doc.Resources); n > 0 {
			versions++
			methods += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := 0
	for _, a := range lro.Catalog() {
		routes += len(a.Routes)
	}
	if len(lro.Catalog()) != versions || routes != methods {
		t.Errorf("catalog: %d API versions, %d routes; the documents: %d API versions, %d operations cancel methods", len(lro.Catalog()), routes, versions, methods)
	}
	if version == "v0.304.0" && (versions != 188 || methods != 391) {
		t.Errorf("%s %s: %d API versions with %d cancel methods, want 188 and 391", apiModule, version, versions, methods)
	}
}

// plainResource is a resource of a discovery document: the names of its
// methods and its resources.
type plainResource struct {
	Methods   map[string]json.RawMessage `json:"methods"`
	Resources map[string]plainResource   `json:"resources"`
}

// countCancels counts the cancel methods of operations resources.
func countCancels(rs map[string]plainResource) int {
	n := 0
	for name, r := range rs {
		if _, ok := r.Methods["cancel"]; ok && (name == "operations" || strings.HasSuffix(name, "Operations")) {
			n++
		}
		n += countCancels(r.Resources)
	}
	return n
}
