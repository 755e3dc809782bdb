package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The docs name tests, files, functions and sections so that a reader can
// find them: the tests here check that each one is there, so that a rename
// or a moved section cannot leave the docs pointing at nothing.

const repoRoot = "../.."

// repo is what the docs may refer to: the repository's files, its tests
// and its packages.
type repo struct {
	files    map[string]bool   // slash paths from the root, directories included
	bases    []string          // base names of the Go files
	testFns  []string          // Test, Benchmark, Fuzz and Example functions
	packages map[string]string // a package's name to its directory, where no other package has that name
}

var testFunc = regexp.MustCompile(`(?m)^func ((?:Test|Benchmark|Fuzz|Example)\w*)\(`)

// readRepo reads the repository once for the tests of this file.
var readRepo = sync.OnceValues(func() (*repo, error) {
	r := &repo{files: map[string]bool{}, packages: map[string]string{}}
	dirsOf := map[string][]string{} // package base name → directories
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		r.files[rel] = true
		if d.IsDir() || !strings.HasSuffix(p, ".go") || slices.Contains(strings.Split(rel, "/"), "testdata") {
			return nil // the Go files of testdata are data
		}
		r.bases = append(r.bases, d.Name())
		dir := path.Dir(rel)
		if ds := dirsOf[path.Base(dir)]; !slices.Contains(ds, dir) {
			dirsOf[path.Base(dir)] = append(ds, dir)
		}
		if strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range testFunc.FindAllSubmatch(b, -1) {
				r.testFns = append(r.testFns, string(m[1]))
			}
		}
		return nil
	})
	for name, dirs := range dirsOf {
		if len(dirs) == 1 { // a name two packages share says nothing
			r.packages[name] = dirs[0]
		}
	}
	return r, err
})

func mustReadRepo(t *testing.T) *repo {
	t.Helper()
	r, err := readRepo()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// declarations caches the top-level names each package directory declares,
// in its code and its tests.
type declarations map[string]map[string]bool

// declares says whether the package in dir declares name.
func (decls declarations) declares(t *testing.T, dir, name string) bool {
	t.Helper()
	if decls[dir] == nil {
		decls[dir] = map[string]bool{}
		paths, _ := filepath.Glob(filepath.Join(repoRoot, dir, "*.go"))
		for _, p := range paths {
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.FuncDecl:
					if d.Recv == nil {
						decls[dir][d.Name.Name] = true
					}
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						switch s := spec.(type) {
						case *ast.TypeSpec:
							decls[dir][s.Name.Name] = true
						case *ast.ValueSpec:
							for _, n := range s.Names {
								decls[dir][n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return decls[dir][name]
}

// docPages returns the README and every page under docs/, as slash paths
// from the root.
func docPages(r *repo) []string {
	pages := []string{"README.md"}
	for p := range r.files {
		if strings.HasPrefix(p, "docs/") && strings.HasSuffix(p, ".md") {
			pages = append(pages, p)
		}
	}
	slices.Sort(pages)
	return pages
}

var (
	// A -run, -bench or -fuzz pattern on a go test command line.
	testPattern = regexp.MustCompile(`(?:^|\s)-(?:run|bench|fuzz)[ =]('[^']*'|"[^"]*"|\S+)`)
	// A test's name; `TestSubmit*` is a prefix, *TestChaos* is in italics.
	testName  = regexp.MustCompile(`(\*?)\b((?:Test|Benchmark|Fuzz|Example)[A-Z]\w*)(\*?)`)
	goFile    = regexp.MustCompile(`[\w*]+\.go\b`)
	qualified = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.([A-Z]\w*)`)
)

// TestDocsNameWhatExists: every test function, Go file, repository path
// and package-qualified name (lro.Classify) the README and docs/ mention
// exists, and every go test -run pattern they give matches a test.
func TestDocsNameWhatExists(t *testing.T) {
	t.Parallel()
	r := mustReadRepo(t)
	// A path the docs give: one that starts with a top-level directory.
	var tops []string
	for p := range r.files {
		if !strings.Contains(p, "/") && p != "." && isDir(filepath.Join(repoRoot, p)) {
			tops = append(tops, regexp.QuoteMeta(p))
		}
	}
	decls := declarations{}
	repoPath := regexp.MustCompile(`(?:^|[\s(\x60"'=])(?:\./)?((?:` + strings.Join(tops, "|") + `)/[\w./-]*\w)`)
	for _, page := range docPages(r) {
		b, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range testPattern.FindAllStringSubmatch(text, -1) {
			pat := strings.Trim(m[1], `'"`)
			if pat == "^$" {
				continue // runs no test on purpose
			}
			re, err := regexp.Compile(strings.Split(pat, "/")[0])
			if err != nil {
				t.Errorf("%s: %s: %v", page, m[0], err)
				continue
			}
			if !slices.ContainsFunc(r.testFns, re.MatchString) {
				t.Errorf("%s: %s matches no test function", page, m[0])
			}
		}
		text = testPattern.ReplaceAllString(text, "")
		for _, m := range testName.FindAllStringSubmatch(text, -1) {
			name, prefix := m[2], m[1] == "" && m[3] == "*"
			if !slices.ContainsFunc(r.testFns, func(fn string) bool { return fn == name || prefix && strings.HasPrefix(fn, name) }) {
				t.Errorf("%s names %s, which no _test.go file defines", page, m[0])
			}
		}
		for _, name := range uniq(goFile.FindAllString(text, -1)) {
			if !slices.ContainsFunc(r.bases, func(base string) bool { ok, _ := path.Match(name, base); return ok }) {
				t.Errorf("%s names %s, which no file of the repository is", page, name)
			}
		}
		for _, m := range repoPath.FindAllStringSubmatch(text, -1) {
			if !r.files[strings.TrimSuffix(m[1], ".")] {
				t.Errorf("%s names %s, which does not exist", page, m[1])
			}
		}
		for _, m := range qualified.FindAllStringSubmatch(text, -1) {
			if dir, ok := r.packages[m[1]]; ok && !decls.declares(t, dir, m[2]) {
				t.Errorf("%s names %s, which package %s (%s) does not declare", page, m[0], m[1], dir)
			}
		}
	}
}

var (
	mdLink   = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	docsLink = regexp.MustCompile(`\bdocs/[\w/.-]+\.md(?:#[\w-]+)?`)
)

// TestDocLinksResolve: every relative link of the README and docs/, and
// every docs/….md#section a Go comment cites, leads to a file that exists
// and, with a fragment, to a heading of that page.
func TestDocLinksResolve(t *testing.T) {
	t.Parallel()
	r := mustReadRepo(t)
	anchors := map[string]map[string]bool{}
	check := func(where, target string) {
		file, frag, _ := strings.Cut(target, "#")
		if !r.files[file] {
			t.Errorf("%s: link to %s, which does not exist", where, target)
			return
		}
		if frag == "" || !strings.HasSuffix(file, ".md") {
			return
		}
		if anchors[file] == nil {
			b, err := os.ReadFile(filepath.Join(repoRoot, file))
			if err != nil {
				t.Fatal(err)
			}
			anchors[file] = headingAnchors(string(b))
		}
		if !anchors[file][frag] {
			t.Errorf("%s: link to %s, but %s has no heading #%s", where, target, file, frag)
		}
	}
	for _, page := range docPages(r) {
		b, err := os.ReadFile(filepath.Join(repoRoot, page))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for line, fenced := range markdownLines(string(b)) {
			n++
			if fenced {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if strings.HasPrefix(target, "#") {
					target = page + target
				} else {
					target = path.Join(path.Dir(page), target)
				}
				check(page+":"+strconv.Itoa(n), target)
			}
		}
	}
	for p := range r.files {
		if !strings.HasSuffix(p, ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range uniq(docsLink.FindAllString(string(b), -1)) {
			check(p, target)
		}
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
