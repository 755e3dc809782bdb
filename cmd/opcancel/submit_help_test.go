package main

import (
	"strings"
	"testing"
)

// TestSubmitHelpExplainsWaitAndTheExitStatuses: submit --help says what
// --wait does and what each exit status means.
func TestSubmitHelpExplainsWaitAndTheExitStatuses(t *testing.T) {
	t.Parallel()
	out, _, _, _ := runCLI(t, nil, "submit", "--help")
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"temporary subscription", "deleted on exit", "Exit status: 0 when", "1 when a publish failed",
		"2 on a usage error", "3 with --wait", "4 with --wait when some name had no outcome at --wait-timeout"} {
		if !strings.Contains(flat, want) {
			t.Errorf("submit --help lacks %q:\n%s", want, out)
		}
	}
}
