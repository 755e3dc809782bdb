package e2etest

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// Workers listen on a port of their own choosing (--listen=127.0.0.1:0) and
// name it in their start-up log line: no port is picked and bound again.

// AdminAddr is the address a worker started with --listen=127.0.0.1:0
// serves /metrics on, from its start-up log line in logs; "" until then.
func AdminAddr(logs *SyncBuffer) string {
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Message, Admin string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "worker starting" {
			return l.Admin
		}
	}
	return ""
}

// Process is a running opcancel worker, the binary Binary builds.
type Process struct {
	Cmd *exec.Cmd
	// Admin is its admin address (/metrics, /readyz).
	Admin string
	// Logs is what it wrote to stderr: its log.
	Logs *SyncBuffer
	// Done holds Wait's result once it has exited; whoever takes it puts
	// it back, for the cleanup.
	Done chan error
}

// StartWorker starts `opcancel worker --listen=127.0.0.1:0 args...` in the
// environment env (PUBSUB_EMULATOR_HOST, for one), waits until it is ready,
// and kills it at cleanup. Start-up has no bound of its own: the wait ends
// at the test's deadline, or when the process exits.
func StartWorker(t testing.TB, env []string, args ...string) *Process {
	t.Helper()
	p := &Process{Logs: &SyncBuffer{}, Done: make(chan error, 1)}
	p.Cmd = exec.Command(Binary(t), append([]string{"worker", "--listen=127.0.0.1:0"}, args...)...)
	p.Cmd.Env = env
	p.Cmd.Stderr = p.Logs
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Done <- p.Cmd.Wait() }()
	t.Cleanup(func() { p.Cmd.Process.Kill(); p.Done <- <-p.Done })
	WaitFor(t, "the worker to be ready", UntilDeadline(t), func() bool {
		select {
		case err := <-p.Done:
			p.Done <- err // for the cleanup
			t.Fatalf("worker exited at start: %v\n%s", err, p.Logs)
		default:
		}
		p.Admin = AdminAddr(p.Logs)
		return p.Admin != "" && Status(p.Admin, "/readyz") == http.StatusOK
	})
	return p
}
