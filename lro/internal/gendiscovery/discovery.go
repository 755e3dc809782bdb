package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// doc is the part of a discovery document the catalog needs.
type doc struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	RootURL     string `json:"rootUrl"`
	ServicePath string `json:"servicePath"`
	Endpoints   []struct {
		Location    string `json:"location"`
		EndpointURL string `json:"endpointUrl"`
	} `json:"endpoints"`
	Resources map[string]*resource `json:"resources"`
	// Schemas are decoded when needed: most are never looked at.
	Schemas map[string]json.RawMessage `json:"schemas"`
}

// schema returns the schema named ref, or nil.
func (d *doc) schema(ref string) *schema {
	raw, ok := d.Schemas[ref]
	if !ok {
		return nil
	}
	var s schema
	if json.Unmarshal(raw, &s) != nil {
		return nil
	}
	return &s
}

type resource struct {
	Methods   map[string]*method   `json:"methods"`
	Resources map[string]*resource `json:"resources"`
}

type method struct {
	ID         string           `json:"id"`
	Path       string           `json:"path"`
	HTTPMethod string           `json:"httpMethod"`
	Parameters map[string]param `json:"parameters"`
	Scopes     []string         `json:"scopes"`
	Response   *struct {
		Ref string `json:"$ref"`
	} `json:"response"`
}

type param struct {
	Location string `json:"location"`
	Pattern  string `json:"pattern"`
	Required bool   `json:"required"`
}

type schema struct {
	Properties map[string]*property `json:"properties"`
}

type property struct {
	Ref  string   `json:"$ref"`
	Type string   `json:"type"`
	Enum []string `json:"enum"`
}

// readDocs reads every discovery document under dir that declares a cancel
// method: the files named *-api.json, outside directories named testdata or
// internal (the module's own generator keeps a sample document there), that
// have a "cancel" key (most do not, and are not worth decoding). They come
// sorted by path.
func readDocs(dir string) ([]*doc, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "internal") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), "-api.json") {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(paths)
	docs := make([]*doc, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte(`"cancel"`)) {
			continue
		}
		var d doc
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		docs = append(docs, &d)
	}
	return docs, nil
}

// operationsResources returns the resources of d that hold operations and
// have a cancel method, in a stable order (by their path of resource
// names). An operations resource is one named "operations" or, in camel
// case, ending in "Operations" (Storage Transfer's "transferOperations").
func operationsResources(d *doc) []*resource {
	type found struct {
		path string
		r    *resource
	}
	var out []found
	var walk func(prefix string, rs map[string]*resource)
	walk = func(prefix string, rs map[string]*resource) {
		for name, r := range rs {
			path := prefix + "." + name
			if isOperations(name) && r.Methods["cancel"] != nil {
				out = append(out, found{path, r})
			}
			walk(path, r.Resources)
		}
	}
	walk("", d.Resources)
	slices.SortFunc(out, func(a, b found) int { return strings.Compare(a.path, b.path) })
	rs := make([]*resource, len(out))
	for i, f := range out {
		rs[i] = f.r
	}
	return rs
}

// isOperations reports whether a resource name names operations.
func isOperations(name string) bool {
	return name == "operations" || strings.HasSuffix(name, "Operations")
}
