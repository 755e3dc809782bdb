package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/queue/queuetest"
)

// TestSubmitConfirmAbove: more than --confirm-above valid names (1000 by
// default), from any source, are not published without a question; with
// no terminal to ask on, submit refuses (exit 2), naming --yes and the
// count per service, before anything is published or any subscription
// made for --wait. --yes, a dry run, or a count within the bound go on.
func TestSubmitConfirmAbove(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	dir := t.TempDir()
	five := "operations/c1\noperations/c2\noperations/c3\n" + devOps + "c4\n" + devOps + "c5\noperations/../invalid\n"
	file := filepath.Join(dir, "five.txt")
	os.WriteFile(file, []byte(five), 0o600)
	var many strings.Builder
	for i := range 1001 {
		fmt.Fprintf(&many, "operations/many-%d\n", i)
	}
	manyFile := filepath.Join(dir, "many.txt")
	os.WriteFile(manyFile, []byte(many.String()), 0o600)
	env := getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host})
	submit := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"submit", "--topic=" + ps.topic, "--results-topic=" + ps.results}, args...),
			env, strings.NewReader(stdin), &out, &errb)
		return out.String(), err
	}
	refused := fmt.Sprintf("5 cancel requests (vault.googleapis.com 3, androidmanagement.googleapis.com 2) would be published to %s, "+
		"more than --confirm-above 4; confirm with --yes", ps.topic)
	for _, tt := range []struct {
		what  string
		stdin string
		args  []string
		want  string
	}{
		{"a file", "", []string{"--confirm-above=4", "--file=" + file}, refused},
		{"standard input", five, []string{"--confirm-above=4", "-"}, refused},
		{"arguments", "", append([]string{"--confirm-above=4"}, strings.Fields(five)...), refused},
		{"--wait", "", []string{"--confirm-above=4", "--wait", "--wait-timeout=1s", "--file=" + file}, refused},
		{"the default", "", []string{"--file=" + manyFile}, "1001 cancel requests (vault.googleapis.com 1001) would be published to " + ps.topic + ", more than --confirm-above 1000; confirm with --yes"},
	} {
		_, err := submit(tt.stdin, tt.args...)
		if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%s: exit %d, %v; want 2 and %q", tt.what, exitCode(err), err, tt.want)
		}
	}
	if got := readPublished(t, e, ps.sub); len(got) != 0 {
		t.Errorf("%d messages published without confirmation, want none", len(got))
	}
	if subs := waitSubscriptions(t, e, ps.project); len(subs) != 0 {
		t.Errorf("--wait made a subscription before confirmation: %v", subs)
	}

	for _, tt := range []struct {
		what string
		args []string
		want int
	}{
		{"within the bound", []string{"--confirm-above=5", "--file=" + file}, 5},
		{"--yes", []string{"--confirm-above=4", "--yes", "--file=" + file}, 5},
		{"--dry-run", []string{"--confirm-above=4", "--dry-run", "--file=" + file}, 0},
	} {
		if out, err := submit("", tt.args...); err != nil {
			t.Errorf("%s: %v\n%s", tt.what, err, out)
		}
		if got := readPublished(t, e, ps.sub); len(got) != tt.want {
			t.Errorf("%s: %d messages published, want %d", tt.what, len(got), tt.want)
		}
	}
}
