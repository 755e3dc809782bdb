package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// building is held by each build of the opcancel binary without -race
// (deploy/build.sh, go install): builds for one platform that run at once
// each compile every package themselves, since the build cache fills only
// as one ends; one after the other, the first compiles and the others
// mostly link. On an empty cache that is minutes of two cores saved.
var building sync.Mutex

// build runs cmd, a build of the opcancel binary, holding building; it
// returns its combined output.
func build(cmd *exec.Cmd) ([]byte, error) {
	building.Lock()
	defer building.Unlock()
	return cmd.CombinedOutput()
}

// scriptBuilds are deploy/build.sh's binaries, one per platform
// (GOOS/GOARCH), built once per test binary for the tests that check them,
// one after the other in the order the tests asked for them; last is the
// one asked for last.
var scriptBuilds struct {
	sync.Mutex
	byPlatform map[string]*scriptBuild
	last       *scriptBuild
}

// scriptBuild is one platform's deploy/build.sh run: done is closed when
// it has ended, with the binary at path (in dir) or the failure in err and
// out.
type scriptBuild struct {
	done      chan struct{}
	dir, path string
	out       []byte
	err       error
}

// startScriptBuild starts deploy/build.sh for goos/goarch in the
// background, unless a test started it already, stamped v9.9.9-test and
// commit 0123abc; it runs once the build asked for before it has ended.
// Tests call it before t.Parallel: a parallel test waits for a free turn,
// and on an empty build cache the builds are the longest part of the kit's
// tests, so they start with the test binary and compile while the other
// tests run, beside go test's -parallel (docs/testing.md#how-long-it-takes).
func startScriptBuild(goos, goarch string) *scriptBuild {
	scriptBuilds.Lock()
	defer scriptBuilds.Unlock()
	platform := goos + "/" + goarch
	if sb := scriptBuilds.byPlatform[platform]; sb != nil {
		return sb
	}
	sb := &scriptBuild{done: make(chan struct{})}
	if scriptBuilds.byPlatform == nil {
		scriptBuilds.byPlatform = map[string]*scriptBuild{}
	}
	scriptBuilds.byPlatform[platform] = sb
	before := scriptBuilds.last
	scriptBuilds.last = sb
	sb.dir, sb.err = os.MkdirTemp("", "opcancel-build-")
	if sb.err != nil {
		close(sb.done)
		return sb
	}
	sb.path = filepath.Join(sb.dir, "opcancel")
	go func() {
		defer close(sb.done)
		if before != nil {
			<-before.done
		}
		script := exec.Command("sh", "deploy/build.sh", sb.path, "v9.9.9-test", "0123abc")
		script.Dir = repoRoot
		script.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
		sb.out, sb.err = build(script)
	}()
	return sb
}

// removeBuilds waits for the builds the tests started, which a test that
// failed early or a -run naming one subtest may have left running, and
// removes their binaries.
func removeBuilds() {
	scriptBuilds.Lock()
	defer scriptBuilds.Unlock()
	for _, sb := range scriptBuilds.byPlatform {
		<-sb.done
		if sb.dir != "" {
			os.RemoveAll(sb.dir)
		}
	}
}

// binary waits for the build and returns the binary's path; a failed
// build fails the test with the script's output.
func (sb *scriptBuild) binary(t *testing.T) string {
	t.Helper()
	<-sb.done
	if sb.err != nil {
		t.Fatalf("deploy/build.sh: %v\n%s", sb.err, sb.out)
	}
	return sb.path
}

// TestImageBuildsForAmd64AndArm64: the Dockerfile's Go stage runs on the
// build machine's platform and hands BuildKit's target platform to
// deploy/build.sh, which cross-compiles for it: the script's output for
// linux/amd64 and linux/arm64 is a static ELF binary of that machine.
// (There is no Docker engine to build the image itself.)
func TestImageBuildsForAmd64AndArm64(t *testing.T) {
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	builds := map[string]*scriptBuild{}
	// This machine's architecture first: the other tests of the script wait
	// for that build, which the build cache then shares with go install's.
	for _, arch := range []string{runtime.GOARCH, "amd64", "arm64"} {
		if _, ok := machines[arch]; ok && builds[arch] == nil {
			builds[arch] = startScriptBuild("linux", arch)
		}
	}
	t.Parallel()
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM --platform=$BUILDPLATFORM golang:", "ARG TARGETOS TARGETARCH",
		`RUN GOOS="$TARGETOS" GOARCH="$TARGETARCH" deploy/build.sh /out/opcancel`} {
		if !bytes.Contains(dockerfile, []byte(want)) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	for arch, machine := range machines {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			f, err := elf.Open(builds[arch].binary(t))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != machine {
				t.Errorf("GOARCH=%s built a binary for %v, want %v", arch, f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("GOARCH=%s: the binary asks for a dynamic loader: not static", arch)
				}
			}
		})
	}
}

// TestGoInstallPrintsTheModuleVersionAndRevision: a binary built without
// deploy/build.sh's stamps (go install in a checkout) reports the version
// and the VCS revision the Go toolchain recorded, not dev and unknown. The
// daemon's module is copied into a repository of its own (a linked work
// tree's .git is a file, which the toolchain does not read as a
// repository), and -buildvcs=true is explicit because a machine's go env
// may turn stamping off.
func TestGoInstallPrintsTheModuleVersionAndRevision(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	src := t.TempDir()
	files, err := exec.Command("git", "-C", repoRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	for _, f := range strings.Split(strings.TrimRight(string(files), "\x00"), "\x00") {
		if strings.HasPrefix(f, "deploy/") {
			continue // a module of its own
		}
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = src
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A", "-f")
	git("commit", "-q", "-m", "a commit")
	rev := git("rev-parse", "HEAD")
	bin := t.TempDir()
	install := exec.Command("go", "install", "-buildvcs=true", "-trimpath", "./cmd/opcancel")
	install.Dir = src
	install.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
	if out, err := build(install); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "opcancel"), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "opcancel v0.0.0-"
	if !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "-"+rev[:12]+" (commit "+rev+", go1.") {
		t.Errorf("version = %q, want the pseudo-version and commit %s (git status: %s)", out, rev, git("status", "--porcelain"))
	}
}
