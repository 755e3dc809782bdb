package main

import (
	"fmt"
	"strings"
	"testing"

	"opcancel/queue"
)

// TestReplaySelectsByBatchAndService: --batch and --service replay only the
// dead letters they select, routed as the worker routes them (a bare name
// included); the others are given back at once, untouched, so a dry run
// right after counts them all.
func TestReplaySelectsByBatchAndService(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "proj-" + strings.ToLower(uniqueName("replay-select"))
	dl := func(batch, service, name string) message {
		attrs := map[string]string{"batch": batch}
		if service != "" {
			attrs["service"] = service
		}
		return message{data: name, attrs: attrs}
	}
	b1 := []message{
		dl("b1", vaultHost, "operations/b1-v1"),
		dl("b1", vaultHost, "operations/b1-v2"),
		dl("b1", amapiHost, devOps+"b1-a1"),
	}
	b2Amapi := []message{
		dl("b2", amapiHost, devOps+"b2-a1"),
		{data: `{"name":"` + devOps + `b2-bare","batch":"b2"}`}, // routed by its pattern
	}
	b2Vault := []message{dl("b2", vaultHost, "operations/b2-v1")}
	all := append(append(append([]message{}, b1...), b2Amapi...), b2Vault...)
	topic, deadSub, reader := deadLetters(t, e, project, 0, all...)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	replay := func(args ...string) (string, string, int) {
		out, errb, code, err := runCLI(t, env, append([]string{"replay", "--idle=" + replayIdle.String(), "--from-subscription=" + deadSub, "--topic=" + topic}, args...)...)
		if err != nil {
			errb += "opcancel: " + err.Error()
		}
		return out, errb, code
	}

	out, errb, code := replay("--dry-run", "--batch=b1")
	if want := fmt.Sprintf("dead letters: 6 in %s, 3 selected by --batch \"b1\" (vault.googleapis.com 2, androidmanagement.googleapis.com 1); dry run", deadSub); code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("--dry-run --batch=b1: exit %d\n%s\n%s\nwant %s", code, out, errb, want)
	}

	out, errb, code = replay("--batch=b1")
	if want := "replayed: 3, failed: 0, skipped: 3, "; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("--batch=b1: exit %d\n%s\n%s\nwant %s", code, out, errb, want)
	}
	checkReplayed(t, e, reader, deadSub, b1)
	// The three skipped ones were given back without delay: held until
	// their leases ran out, they would be invisible for a minute.
	if out, errb, _ := replay("--dry-run"); !strings.HasPrefix(out, "dead letters: 3 in ") {
		t.Errorf("right after --batch=b1: %s%s, want the 3 others back at once", out, errb)
	}

	out, errb, code = replay("--service="+amapiHost, "--batch=b2")
	if want := "replayed: 2, failed: 0, skipped: 1, "; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("--service=%s --batch=b2: exit %d\n%s\n%s\nwant %s", amapiHost, code, out, errb, want)
	}
	checkReplayed(t, e, reader, deadSub, b2Amapi)

	out, errb, code = replay("--service=" + vaultHost)
	if want := "replayed: 1, failed: 0, skipped: 0, "; code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("--service=%s: exit %d\n%s\n%s\nwant %s", vaultHost, code, out, errb, want)
	}
	checkReplayed(t, e, reader, deadSub, b2Vault)
	if out, _, _ := replay("--dry-run"); !strings.HasPrefix(out, "dead letters: 0 in ") {
		t.Errorf("at the end: %s, want none left", out)
	}

	if _, errb, code := replay("--service=aiplatform.googleapis.com"); code != 2 || !strings.Contains(errb, "not enabled") {
		t.Errorf("--service of a service not enabled: exit %d, %s", code, errb)
	}
}

// TestReplayDescribesWhatItSelected: the dry run's account of a selection
// gives the count per service of what it selected, and no empty
// parentheses when it selected nothing (a batch none of whose names
// dead-lettered).
func TestReplayDescribesWhatItSelected(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cmd  replayCmd
		read replayRead
		want string
	}{
		{"everything", replayCmd{}, replayRead{counts: serviceCounts{vaultHost: 2}}, " (vault.googleapis.com 2)"},
		{"an empty subscription", replayCmd{}, replayRead{counts: serviceCounts{}}, ""},
		{"a batch", replayCmd{Batch: "b1"}, replayRead{selected: make([]queue.Pulled, 2), counts: serviceCounts{vaultHost: 2}},
			`, 2 selected by --batch "b1" (vault.googleapis.com 2)`},
		{"a batch with no dead letter", replayCmd{Batch: "b9", Service: vaultHost}, replayRead{counts: serviceCounts{}},
			`, 0 selected by --batch "b9" and --service vault.googleapis.com`},
	} {
		if got := tt.read.describe(&tt.cmd); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestReplayCountsAreBounded: the count per service that the dry run and
// the confirmation print names hosts read from dead letters: however
// many and whatever they hold, the line names a few, escaped and cut.
func TestReplayCountsAreBounded(t *testing.T) {
	t.Parallel()
	counts := serviceCounts{vaultHost: 50, amapiHost: 40}
	for i := range 200 {
		counts[fmt.Sprintf("\x1b]0;owned\a%d.%s", i, strings.Repeat("x", 1000))] = 1
	}
	got := counts.String()
	if !strings.HasPrefix(got, "vault.googleapis.com 50, androidmanagement.googleapis.com 40, ") || !strings.HasSuffix(got, ", 194 other services 194") {
		t.Errorf("counts: %.300q…; want the largest first and the rest counted together", got)
	}
	if len(got) > 4096 || strings.ContainsAny(got, "\x1b\a") {
		t.Errorf("counts: %d bytes, raw controls %v; want a bounded, escaped line", len(got), strings.ContainsAny(got, "\x1b\a"))
	}
}
