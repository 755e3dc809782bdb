package deploy

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// TestBuildScriptStampsTheVersion builds the binary the way the Dockerfile
// does (deploy/build.sh) and checks it is static and stamped.
func TestBuildScriptStampsTheVersion(t *testing.T) {
	sb := startScriptBuild(runtime.GOOS, runtime.GOARCH)
	t.Parallel()
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy/build.sh /out/opcancel", `ENTRYPOINT ["/opcancel"]`, `CMD ["worker"]`, "USER 65532:65532", "nonroot"} {
		if !bytes.Contains(dockerfile, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	out := sb.binary(t)
	v, err := exec.Command(out, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(v), "opcancel v9.9.9-test (commit 0123abc, go1.") {
		t.Errorf("version = %q", v)
	}
	if f, err := exec.Command("file", out).Output(); err == nil && !bytes.Contains(f, []byte("statically linked")) {
		t.Errorf("not static: %s", f)
	}
}

var digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// TestDockerfilePinsBaseImagesByDigest: every base image of the Dockerfile
// is pinned by digest (a tag moves; a digest names exactly one image).
func TestDockerfilePinsBaseImagesByDigest(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	froms := 0
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		froms++
		fields = fields[1:]
		for len(fields) > 1 && strings.HasPrefix(fields[0], "--") { // --platform=...
			fields = fields[1:]
		}
		image := fields[0]
		if len(fields) >= 3 && strings.EqualFold(fields[1], "AS") {
			stages[fields[2]] = true
		}
		if !stages[image] && !digestPinned.MatchString(image) {
			t.Errorf("FROM %s is not pinned by digest (want IMAGE:TAG@sha256:<64 hex>)", image)
		}
	}
	if froms == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
}

// TestDockerignoreKeepsTheContextToTheSources: by Docker's own pattern
// rules, the build context holds the daemon's module and deploy/build.sh,
// which the build needs, and no .git, key file, local output or file of
// another module.
func TestDockerignoreKeepsTheContextToTheSources(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(path string) bool {
		ex, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	for _, secret := range []string{".git", ".git/config", "key.json", "sa-key.json", "deploy/credentials.json",
		"cmd/opcancel/service-account.json", "tls.key", "lro/client.pem", ".env", "opcancel", "services.yaml"} {
		if !excluded(secret) {
			t.Errorf("%s would be sent to the builder", secret)
		}
	}
	needed, others := goSources(t)
	needed = append(needed, "go.mod", "go.sum", "deploy/build.sh")
	for _, n := range needed {
		if excluded(n) {
			t.Errorf("%s, which the build needs, is left out of the context", n)
		}
	}
	for _, o := range others {
		if !excluded(o) {
			t.Errorf("%s, of another module than the daemon's, would be sent to the builder", o)
		}
	}
}

// goSources returns the repository's Go files (paths from its root): those
// of the daemon's module, and the Go files, go.mod and go.sum of any module
// below it (this one, deploy/go.mod), which the image never builds: they
// must stay out of the context, or they would join the root module inside
// the builder.
func goSources(t *testing.T) (daemon, others []string) {
	t.Helper()
	var nested []string // the directories below the root that hold a go.mod
	inNested := func(rel string) bool {
		return slices.ContainsFunc(nested, func(dir string) bool { return strings.HasPrefix(rel, dir+"/") })
	}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				nested = append(nested, rel)
			}
			return nil
		}
		switch {
		case inNested(rel) && (strings.HasSuffix(rel, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum"):
			others = append(others, rel)
		case strings.HasSuffix(rel, ".go"):
			daemon = append(daemon, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(others) == 0 {
		t.Fatal("no module below the root: the kit's tests are in deploy/go.mod's")
	}
	return daemon, others
}
