package main

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

// The harness of the end-to-end tests: the Pub/Sub emulator and the
// opcancel binary, each started once per test binary, and how many tests
// run at once. Pub/Sub resources are made by e2e_pubsub_test.go, fake APIs
// by e2e_fakeapis_test.go, workers by e2e_workers_test.go; waits are bounded
// by e2e_bounds_test.go.

var (
	emuOnce sync.Once
	emu     *queuetest.Emulator
	emuErr  error

	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// e2eParallel is how many tests run at once unless -parallel says otherwise.
// The end-to-end tests spend their time waiting on real time (outages, lease
// lapses, shutdown timeouts), not on the CPU, so go test's default of one
// test per core would make the suite as long as the sum of those waits.
const e2eParallel = 8

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", strconv.Itoa(max(e2eParallel, runtime.GOMAXPROCS(0))))
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

// binary builds opcancel once for the tests that need a real process, with
// -race when the tests run with it.
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
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
