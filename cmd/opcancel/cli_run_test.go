package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"opcancel/internal/e2etest"
)

// syncBuffer is a goroutine-safe sink for what a command or a process
// writes (logs, stderr) while the test reads it.
type syncBuffer = e2etest.SyncBuffer

// getenvFrom makes a getenv from a map.
func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCLI runs the command line with args in the environment env, with an
// empty standard input, and returns what it wrote, its exit status and
// run's error.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, getenvFrom(env), strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), exitCode(err), err
}
