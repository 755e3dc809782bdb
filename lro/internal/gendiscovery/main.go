// Command gendiscovery writes lro's catalog of Google APIs with an
// operations cancel method (lro/catalog_gen.go) from the discovery
// documents that ship in the google.golang.org/api module of go.mod. It runs
// through go generate in lro (see lro/catalog.go); it is not part of the
// opcancel binary.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
)

// apiModule is the module whose discovery documents are read.
const apiModule = "google.golang.org/api"

func main() {
	out := flag.String("o", "catalog_gen.go", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendiscovery:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	dir, version, err := moduleDir(apiModule)
	if err != nil {
		return err
	}
	src, err := generate(dir, apiModule+" "+version)
	if err != nil {
		return err
	}
	return os.WriteFile(out, src, 0o644)
}

// moduleDir returns the directory and version of module as the current
// module requires it, from the module cache.
func moduleDir(module string) (dir, version string, err error) {
	out, err := exec.Command("go", "list", "-m", "-json", module).Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	var m struct{ Dir, Version string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", "", fmt.Errorf("go list -m %s: %w", module, err)
	}
	if m.Dir == "" {
		return "", "", fmt.Errorf("%s %s is not in the module cache (go mod download %s)", module, m.Version, module)
	}
	return m.Dir, m.Version, nil
}

// generate reads the discovery documents under dir and returns the
// catalog's Go source; source names where they came from.
func generate(dir, source string) ([]byte, error) {
	docs, err := readDocs(dir)
	if err != nil {
		return nil, err
	}
	var apis []*api
	for _, d := range docs {
		a, err := buildAPI(d)
		if err != nil {
			return nil, err
		}
		if a != nil {
			apis = append(apis, a)
		}
	}
	if len(apis) == 0 {
		return nil, fmt.Errorf("no discovery document under %s declares an operations cancel method", dir)
	}
	sortAPIs(apis)
	return render(source, apis)
}
