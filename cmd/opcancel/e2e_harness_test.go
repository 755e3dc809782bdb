package main

import (
	"os"
	"testing"

	"opcancel/internal/e2etest"
)

// The harness of the end-to-end tests is internal/e2etest, shared with the
// deploy kit's tests: the Pub/Sub emulator and the opcancel binary, each
// started once per test binary. This package's names for it are here;
// Pub/Sub resources are made by e2e_pubsub_test.go, fake APIs by
// e2e_fakeapis_test.go, workers by e2e_workers_test.go; waits are bounded
// by e2e_bounds_test.go.

var (
	// emulator returns the test binary's shared emulator, skipping the
	// test when the emulator is not installed.
	emulator = e2etest.Emulator
	// binary builds opcancel once for the tests that need a real process,
	// with -race when the tests run with it.
	binary = e2etest.Binary
)

// e2eParallel is how many tests run at once unless -parallel says
// otherwise: all of them. The end-to-end tests spend their time waiting on
// real time (outages, lease lapses, shutdown timeouts), not on the CPU: at
// eight at once, the package took its 1,090 s of tests over eight and a
// tail, its longest tests starting last (165 s); all at once, it takes
// about as long as its longest test.
const e2eParallel = 64

func TestMain(m *testing.M) { os.Exit(e2etest.Main(m, e2eParallel)) }
