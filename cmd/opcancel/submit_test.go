package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

type published struct {
	Name, Service, Reason, Batch string
	Attrs                        map[string]string
}

func readPublished(t *testing.T, e *queuetest.Emulator, sub string) []published {
	t.Helper()
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	var out []published
	for _, m := range msgs {
		var p published
		if err := json.Unmarshal(m.Message.Data, &p); err != nil {
			t.Fatalf("published %q is not the JSON form: %v", m.Message.Data, err)
		}
		p.Attrs = m.Message.Attributes
		out = append(out, p)
	}
	return out
}

func TestSubmitPublishesExactlyTheValidNames(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	file := filepath.Join(t.TempDir(), "names.txt")
	os.WriteFile(file, []byte(`# incident 4711: runaway wipes
enterprises/e1/devices/d1/operations/o1

//androidmanagement.googleapis.com/enterprises/e1/devices/d2/operations/o2
operations/../admin
   operations/vault-1   
//evil.example.com/operations/x
`), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"submit", "--topic=" + ps.topic, "--reason=incident 4711", "--batch=wipe-storm",
		"--file=" + file, "operations/from-arg", "bad name", "-"},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader("operations/from-stdin\n\n#c\nnot/a/known/thing\n"), &out, &errb)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, errb.String())
	}
	if want := "published: 5, invalid: 4, failed: 0, batch: wipe-storm\n"; out.String() != want {
		t.Errorf("summary = %q, want %q", out.String(), want)
	}
	for _, want := range []string{
		file + ":5: invalid: name has a \"..\" segment",
		file + ":7: invalid: service \"evil.example.com\" is not configured",
		"argument 2: invalid: name has a forbidden character ' '",
		"stdin:4: invalid: name \"not/a/known/thing\" matches no enabled service",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	got := readPublished(t, e, ps.sub)
	names := map[string]published{}
	for _, p := range got {
		names[p.Name] = p
		if p.Reason != "incident 4711" || p.Batch != "wipe-storm" || p.Attrs["batch"] != "wipe-storm" || p.Attrs["service"] != p.Service {
			t.Errorf("published %+v", p)
		}
	}
	want := map[string]string{
		"operations/from-arg":                     "vault.googleapis.com",
		"operations/from-stdin":                   "vault.googleapis.com",
		"operations/vault-1":                      "vault.googleapis.com",
		"enterprises/e1/devices/d1/operations/o1": "androidmanagement.googleapis.com",
		"enterprises/e1/devices/d2/operations/o2": "androidmanagement.googleapis.com",
	}
	gotNames := map[string]string{}
	for n, p := range names {
		gotNames[n] = p.Service
	}
	if diff := cmp.Diff(want, gotNames); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Errorf("%d messages published, want %d", len(got), len(want))
	}
}

func TestSubmitDryRunPublishesNothing(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"submit", "--topic=" + ps.topic, "--dry-run", "operations/a", "operations/b", "operations/%2e"},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "valid (dry run, nothing published): 2, invalid: 1, failed: 0, batch: ") {
		t.Errorf("summary = %q", out.String())
	}
	if !strings.Contains(errb.String(), "batch ") {
		t.Errorf("the generated batch is not printed: %q", errb.String())
	}
	if got := readPublished(t, e, ps.sub); len(got) != 0 {
		t.Errorf("dry run published %d messages", len(got))
	}
}

func TestSubmitFailedPublishExits1(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	var out, errb bytes.Buffer
	// The publish fails at once (NotFound is not retried); a failure to
	// fail would hang until the test's deadline.
	ctx, cancel := context.WithTimeout(context.Background(), untilDeadline(t))
	defer cancel()
	err := run(ctx, []string{"submit", "--project=nowhere", "--topic=missing-topic", "operations/a"},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), &out, &errb)
	if exitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", exitCode(err), err)
	}
	if !strings.Contains(out.String(), "published: 0, invalid: 0, failed: 1") || !strings.Contains(errb.String(), "does not exist") {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

// TestSubmitListParentPublishesEveryOperationNotDone: submit --list-parent
// reads every page of operations.list and publishes each operation of the
// parent that is not done, and only those; over --confirm-above, without a
// terminal, only with --yes.
func TestSubmitListParentPublishesEveryOperationNotDone(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	fake := lrotest.New(lrotest.Options{})
	const parent = "enterprises/e1/devices/d1/operations"
	var want []string
	for i := range 125 { // three pages of 50
		name := fmt.Sprintf("%s/op-%03d", parent, i)
		done := i%5 == 0
		fake.Set(name, lrotest.Script{AlreadyDone: done})
		if !done {
			want = append(want, name)
		}
	}
	fake.Set("enterprises/e1/devices/d9/operations/other", lrotest.Script{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte(lrotest.ServicesYAML(lrotest.Endpoints{amapiHost: srv.URL}, nil)), 0o600)
	args := []string{"submit", "--topic=" + ps.topic, "--config=" + config, "--auth=none", "--service=androidmanagement.googleapis.com", "--list-parent=" + parent}
	env := getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host})

	// Without a terminal to confirm on, nothing over --confirm-above is
	// published without --yes.
	var out, errb bytes.Buffer
	err := run(context.Background(), append(args, "--confirm-above=99"), env, strings.NewReader("y\n"), &out, &errb)
	if want := "100 cancel requests (androidmanagement.googleapis.com 100) would be published to " + ps.topic + ", more than --confirm-above 99; confirm with --yes"; exitCode(err) != 2 || !strings.Contains(err.Error(), want) {
		t.Errorf("without --yes: exit %d, %v", exitCode(err), err)
	}
	if !strings.Contains(errb.String(), parent+": 125 operations in 3 pages, 100 not done") {
		t.Errorf("stderr = %q", errb.String())
	}
	out.Reset()
	errb.Reset()
	if err := run(context.Background(), append(args, "--confirm-above=99", "--yes"), env, strings.NewReader(""), &out, &errb); err != nil {
		t.Fatalf("--yes: %v\n%s", err, errb.String())
	}
	var lists []string
	for _, r := range fake.Requests() {
		if r.Kind == "list" {
			lists = append(lists, r.Query)
		}
	}
	// Two runs (without and with --yes), three pages each.
	slices.Sort(lists)
	if diff := cmp.Diff([]string{"", "", "pageToken=100", "pageToken=100", "pageToken=50", "pageToken=50"}, lists); diff != "" {
		t.Errorf("list requests (-want +got):\n%s", diff)
	}
	var got []string
	for _, p := range readPublished(t, e, ps.sub) {
		got = append(got, p.Name)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}
