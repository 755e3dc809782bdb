package deploy

import (
	"os"
	"testing"

	"opcancel/internal/e2etest"
)

// What the kit's tests share: the repository around them, and the harness
// of the end-to-end tests (internal/e2etest, shared with the daemon's):
// the opcancel binary and the Pub/Sub emulator, each made once per test
// binary, workers and their metrics, and waits derived from what a test
// configures.

// repoRoot is the repository's root, the daemon's module: these tests run
// in deploy/, a module of its own.
const repoRoot = ".."

func TestMain(m *testing.M) {
	// Run as the provisioning tests' fake gcloud (fakegcloud_test.go).
	if state := os.Getenv(fakeGcloudEnv); state != "" {
		os.Exit(fakeGcloud(state, os.Args[1:], os.Stdout, os.Stderr))
	}
	// One test per core, go test's default: most of the kit's tests run
	// other programs (gcloud, kubectl, promtool, go build) that keep a
	// core busy, so more at once only makes each slower.
	code := e2etest.Main(m, 0)
	removeBuilds()
	os.Exit(code)
}

// The harness's names as the kit's tests use them.
var (
	emulator      = e2etest.Emulator
	binary        = e2etest.Binary
	uniqueName    = e2etest.UniqueName
	waitFor       = e2etest.WaitFor
	untilDeadline = e2etest.UntilDeadline
	scrape        = e2etest.Scrape
	value         = e2etest.Value
	status        = e2etest.Status
)

type syncBuffer = e2etest.SyncBuffer
