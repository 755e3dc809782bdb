package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
	"opcancel/request"
)

// TestSubmitListParentSelects: --filter reaches operations.list as it was
// written, and --older-than and --newer-than keep the operations not done
// whose creation time, as the API reports it, falls in their window; a
// listing with an operation that reports none is refused, nothing
// published.
func TestSubmitListParentSelects(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	fake := lrotest.New(lrotest.Options{})
	now := time.Now()
	const parent = "enterprises/e1/devices/d1/operations"
	for name, script := range map[string]lrotest.Script{
		"old":      {Created: now.Add(-3 * time.Hour)},
		"mid":      {Created: now.Add(-90 * time.Minute)},
		"young":    {Created: now.Add(-10 * time.Minute)},
		"old-done": {Created: now.Add(-5 * time.Hour), AlreadyDone: true},
	} {
		fake.Set(parent+"/"+name, script)
	}
	const undated = "enterprises/e1/devices/d2/operations"
	fake.Set(undated+"/dated", lrotest.Script{Created: now.Add(-3 * time.Hour)})
	fake.Set(undated+"/undated", lrotest.Script{})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte(lrotest.ServicesYAML(lrotest.Endpoints{amapiHost: srv.URL}, nil)), 0o600)
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	const filter = `metadata.@type="type.googleapis.com/google.protobuf.Empty" AND NOT done`
	submit := func(p string, args ...string) ([]string, string, int) {
		_, errb, code, err := runCLI(t, env, append([]string{"submit", "--topic=" + ps.topic, "--config=" + config, "--auth=none",
			"--service=" + amapiHost, "--list-parent=" + p, "--yes"}, args...)...)
		if err != nil {
			errb += "opcancel: " + err.Error()
		}
		var got []string
		for _, m := range readPublished(t, e, ps.sub) {
			got = append(got, strings.TrimPrefix(m.Name, p+"/"))
		}
		slices.Sort(got)
		return got, errb, code
	}
	for _, tt := range []struct {
		args []string
		want []string
		line string
	}{
		{nil, []string{"mid", "old", "young"}, "4 operations in 1 pages, 3 not done"},
		{[]string{"--filter=" + filter, "--older-than=1h"}, []string{"mid", "old"}, "3 not done, 2 of them created more than 1h ago"},
		{[]string{"--older-than=1h", "--newer-than=2h"}, []string{"mid"}, "1 of them created between 2h and 1h ago"},
		{[]string{"--newer-than=30m"}, []string{"young"}, "1 of them created within the last 30m"},
	} {
		got, errb, code := submit(parent, tt.args...)
		if code != 0 || !strings.Contains(errb, tt.line) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tt.args, code, tt.line, errb)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v: published (-want +got):\n%s", tt.args, diff)
		}
	}
	var filters []string
	for _, r := range fake.Requests() {
		if r.Kind == "list" {
			q, _ := url.ParseQuery(r.Query)
			filters = append(filters, q.Get("filter"))
		}
	}
	if diff := cmp.Diff([]string{"", filter, "", ""}, filters); diff != "" {
		t.Errorf("filters sent (-want +got):\n%s", diff)
	}

	got, errb, code := submit(undated, "--older-than=1h")
	if want := "--older-than: 1 of the 2 operations not done report no creation time"; code != 2 || !strings.Contains(errb, want) || len(got) != 0 {
		t.Errorf("an operation without a creation time: exit %d, published %v; want 2, none, and %q:\n%s", code, got, want, errb)
	}
}

// TestSubmitSelectionUsage: the selection flags refuse what cannot work,
// naming the flag.
func TestSubmitSelectionUsage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter=done=false", "operations/a"}, "--filter selects among the operations of --list-parent"},
		{[]string{"--older-than=1h", "operations/a"}, "--older-than selects among the operations of --list-parent"},
		{[]string{"--list-parent=operations", "--service=" + vaultHost, "--older-than=2h", "--newer-than=1h"}, "select nothing"},
		{[]string{"--list-parent=operations", "--service=" + vaultHost, "--older-than=-1h"}, "--older-than -1h0m0s: must be positive"},
		{[]string{"--list-parent=operations", "--service=" + vaultHost, "--filter=a\x1bb"}, "--filter: invalid: filter has the control character U+001B"},
		{[]string{"--show", "operations/a"}, "--show: only with --dry-run"},
		{[]string{"--confirm-above=-1", "operations/a"}, "--confirm-above -1: must be 0 (always ask) or more"},
	} {
		_, _, code, err := runCLI(t, nil, append([]string{"submit", "--project=p", "--topic=requests"}, tt.args...)...)
		if code != 2 || err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: exit %d, %v; want 2 and %q", tt.args, code, err, tt.want)
		}
	}
}

// TestSubmitDryRunShow: --dry-run --show reads each valid name's operation
// and prints whether it is done, how, and its type, the API's text
// escaped; --output json carries the same.
func TestSubmitDryRunShow(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/running", lrotest.Script{Type: "google.vault.v1.CountArtifactsMetadata"})
	fake.Set("operations/done", lrotest.Script{AlreadyDone: true, Final: lrotest.Completed})
	fake.Set("operations/hostile", lrotest.Script{Type: hostile})
	fake.Set("operations/refused", lrotest.Script{Get: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, hostile)}})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte(lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: srv.URL}, nil)), 0o600)
	args := []string{"submit", "--project=p", "--topic=requests", "--config=" + config, "--auth=none", "--dry-run", "--show",
		"operations/running", "operations/done", "operations/missing", "operations/hostile", "operations/refused", "operations/../x"}

	out, errb, code, err := runCLI(t, nil, args...)
	if code != 0 {
		t.Fatalf("exit %d, %v\n%s", code, err, errb)
	}
	checkNothingRaw(t, "--show", out)
	var lines []string // the table's lines, with single spaces between its columns
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	for _, want := range []string{
		"vault.googleapis.com operations/running running google.vault.v1.CountArtifactsMetadata",
		"vault.googleapis.com operations/done done (completed) google.protobuf.Empty",
		"vault.googleapis.com operations/missing not_found - NOT_FOUND (HTTP 404): Operation operations/missing not found.",
		"vault.googleapis.com operations/hostile running " + hostileEscaped,
		"vault.googleapis.com operations/refused error - PERMISSION_DENIED (HTTP 403): " + hostileEscaped,
		"operations: running 2, done 1, not_found 1, error 1",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("--show lacks the line %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "\nvalid (dry run, nothing published): 5, invalid: 1, failed: 0") {
		t.Errorf("--show lacks the summary:\n%s", out)
	}
	if n := fake.Stats().Gets; n != 5 {
		t.Errorf("%d operations.get, want one per valid name (5)", n)
	}

	out, _, _, _ = runCLI(t, nil, append(args, "--output=json")...)
	var got struct {
		Operations []shownOperation `json:"operations"`
		Published  int              `json:"published"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Operations) != 5 || got.Published != 5 {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if o := got.Operations[3]; o.Name != "operations/hostile" || o.State != stateRunning || o.Type != hostile {
		t.Errorf("--output json: %+v, want the hostile type itself", o)
	}
}

// TestShowKeepsToTheServiceRate: --show reads each service's operations at
// its services-file rate.
func TestShowKeepsToTheServiceRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
		const perSecond = 4
		yaml := lrotest.ServicesYAML(lrotest.AllAt("http://fake.test"), map[string]string{vaultHost: "rate: 4"})
		table, err := lro.ParseTable("services.yaml", []byte(yaml), lro.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		client, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone, Transport: fake.Transport()})
		if err != nil {
			t.Fatal(err)
		}
		var reqs []request.Request
		for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
			reqs = append(reqs, request.Request{Service: vaultHost, Name: "operations/" + n})
		}
		start := time.Now()
		if _, err := showOperations(context.Background(), client, reqs, progress{}); err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for _, r := range fake.Requests() {
			at = append(at, r.Time.Sub(start))
		}
		for i := 1; i < len(at); i++ {
			if gap := at[i] - at[i-1]; gap < time.Second/perSecond {
				t.Errorf("gets %d and %d %s apart, want at least %s (rate %d)", i, i+1, gap, time.Second/perSecond, perSecond)
			}
		}
	})
}
