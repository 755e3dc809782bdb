package deploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"opcancel/queue/queuetest"
)

// What the kit's tests share: the repository around them, the opcancel
// binary and the Pub/Sub emulator, each made once per test binary.

// repoRoot is the repository's root, the daemon's module: these tests run
// in deploy/, a module of its own.
const repoRoot = ".."

var (
	emuOnce sync.Once
	emu     *queuetest.Emulator
	emuErr  error

	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

func TestMain(m *testing.M) {
	// Run as the provisioning tests' fake gcloud (fakegcloud_test.go).
	if state := os.Getenv(fakeGcloudEnv); state != "" {
		os.Exit(fakeGcloud(state, os.Args[1:], os.Stdout, os.Stderr))
	}
	code := m.Run()
	if emu != nil {
		emu.Stop()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// emulator returns the test binary's shared emulator, skipping the test
// when the emulator is not installed.
func emulator(t *testing.T) *queuetest.Emulator {
	t.Helper()
	if _, err := queuetest.Binary(); err != nil {
		t.Skip(err)
	}
	emuOnce.Do(func() {
		// Start-up has no bound of its own.
		ctx, cancel := context.WithTimeout(context.Background(), untilDeadline(t))
		defer cancel()
		emu, emuErr = queuetest.Start(ctx)
	})
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

// binary builds opcancel once for the tests that run it, with -race when
// the tests run with it. It is built in this module (whose replace points
// at the repository), so the build reuses the packages the test build
// compiled; deploy/build.sh's build from the daemon's own module is
// TestBuildScriptStampsTheVersion's.
func binary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "opcancel-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "opcancel")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "opcancel/cmd/opcancel")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var nameSeq struct {
	sync.Mutex
	n int
}

// uniqueName returns a Pub/Sub-valid name unique within the test binary.
func uniqueName(prefix string) string {
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d", prefix, nameSeq.n)
}
