// Package e2etest is the harness of the end-to-end tests of both of the
// repository's modules: the daemon's (cmd/opcancel) and the deploy kit's
// (deploy/). It starts the official Pub/Sub emulator and builds the opcancel
// binary once per test binary, starts workers as processes and reads what
// they show on their admin address, makes an in-process Pub/Sub (pstest)
// world, and bounds every wait by what the test configures
// (docs/testing.md#end-to-end-on-the-pubsub-emulator).
//
// A test binary that uses it calls Main from its TestMain, so that what it
// started once is stopped once.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package e2etest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"opcancel/queue/queuetest"
)

// The emulator and the binary, each made once per test binary.
var (
	emuOnce sync.Once
	emu     *queuetest.Emulator
	emuErr  error

	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// Main runs the tests, parallel at once unless -parallel is given (0: go
// test's default, one per core), then stops the emulator and removes the
// binary that they shared; it returns the exit status for os.Exit.
//
// Tests that wait on real time (outages, lease lapses, shutdown timeouts)
// rather than on the CPU want many at once: at one per core, a package of
// them takes the sum of their waits over the cores; all at once, its longest test
// (docs/testing.md#how-long-it-takes).
func Main(m *testing.M, parallel int) int {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given && parallel > runtime.GOMAXPROCS(0) {
		flag.Set("test.parallel", strconv.Itoa(parallel))
	}
	code := m.Run()
	if emu != nil {
		emu.Stop()
	}
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// Emulator returns the test binary's shared emulator, started at the first
// call, and skips the test when the emulator is not installed. Tests share
// it: each makes its own project's topics and subscriptions (UniqueName).
func Emulator(t testing.TB) *queuetest.Emulator {
	t.Helper()
	if _, err := queuetest.Binary(); err != nil {
		t.Skip(err)
	}
	emuOnce.Do(func() {
		// Start-up has no bound of its own.
		ctx, cancel := context.WithTimeout(context.Background(), UntilDeadline(t))
		defer cancel()
		emu, emuErr = queuetest.Start(ctx)
	})
	if emuErr != nil {
		t.Fatal(emuErr)
	}
	return emu
}

// Binary builds opcancel once for the tests that run it, and returns its
// path. It is built with -race when the tests are, which reuses the packages
// the test build compiled (instead of compiling every dependency a second
// time) and runs the workers under the race detector. It is built by import
// path, within the module of the test binary's package: the daemon's, or
// the deploy kit's, whose replace points at the repository.
func Binary(t testing.TB) string {
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

// UniqueName returns a Pub/Sub-valid name, prefix and a number, unique
// within the test binary: tests that share the emulator keep apart by it.
func UniqueName(prefix string) string {
	nameSeq.Lock()
	defer nameSeq.Unlock()
	nameSeq.n++
	return fmt.Sprintf("%s-%d", prefix, nameSeq.n)
}
