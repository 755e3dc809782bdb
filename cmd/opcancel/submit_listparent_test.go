package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestSubmitListParentStopsOnATokenCycle: an API whose page tokens go
// A → B → A would have submit page forever. It stops at the first token
// that comes back, exits 1 with a line that says so, and publishes nothing.
func TestSubmitListParentStopsOnATokenCycle(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 50 { // a looping submit fails here instead of hanging the test
			http.Error(w, "too many pages", http.StatusTeapot)
			return
		}
		tok := r.URL.Query().Get("pageToken")
		next := map[string]string{"": "A", "A": "B", "B": "A"}[tok]
		fmt.Fprintf(w, `{"operations":[{"name":"enterprises/e1/devices/d1/operations/op-%s"}],"nextPageToken":%q}`, tok, next)
	}))
	defer srv.Close()
	err := submitListParent(t, srv.URL, `patterns: ["enterprises/*/devices/*/operations/*"]`, "enterprises/e1/devices/d1/operations")
	want := `page 3 leads back to page 2 (page token "A")`
	if exitCode(err) != 1 || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("submit = exit %d, %v; want exit 1 and %q", exitCode(err), err, want)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d list requests, want 3 (pages 1 to 3; page 3 leads back to page 2)", n)
	}
}

// TestListAllCapsPages: an API that hands out a new page token forever is
// paged maxPages times, then submit gives up with a clear error.
func TestListAllCapsPages(t *testing.T) {
	t.Parallel()
	calls := 0
	list := func(token string) (*lro.ListPage, error) {
		calls++
		return &lro.ListPage{NextPageToken: fmt.Sprintf("t%d", calls)}, nil
	}
	_, err := listAll(list, 5)
	if want := "more than 5 pages"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("listAll = %v, want an error with %q", err, want)
	}
	if calls != 5 {
		t.Errorf("%d pages listed, want 5", calls)
	}
}

// TestSubmitListParentResumesWithTheSameCommand: the runbook's "the same
// command run again publishes only what is missing" holds for
// --list-parent: a listing again would differ (what the batch cancelled
// is done by then), so a journal that exists is resumed with its own
// list, and stderr says that the listing flags are not applied again.
func TestSubmitListParentResumesWithTheSameCommand(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	const parent = "enterprises/e1/devices/d1/operations"
	for _, n := range []string{"a", "b", "c"} {
		fake.Set(parent+"/"+n, lrotest.Script{})
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	w := newPstestWorld(t, srv.URL)
	batches := "projects/p/topics/opcancel-batches"
	if err := w.Client.CreateTopic(context.Background(), batches); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PUBSUB_EMULATOR_HOST": w.Server.Addr}
	args := []string{"submit", "--project=p", "--topic=" + w.Topic, "--batches-topic=" + batches, "--config=" + w.Config, "--auth=none",
		"--service=" + amapiHost, "--list-parent=" + parent, "--journal=" + filepath.Join(t.TempDir(), "j")}
	if out, errb, code, err := runCLI(t, env, args...); code != 0 {
		t.Fatalf("the first run: exit %d (%v)\n%s\n%s", code, err, out, errb)
	}
	fake.Set(parent+"/a", lrotest.Script{AlreadyDone: true}) // cancelled by the worker meanwhile
	out, errb, code, err := runCLI(t, env, args...)
	if code != 0 || !strings.Contains(out, "published: 0 (3 earlier)") {
		t.Errorf("the same command run again: exit %d (%v), want 0 and nothing published again\n%s\n%s", code, err, out, errb)
	}
	if want := "resuming its own list of 3 names; --list-parent, --filter, --older-than and --newer-than are not applied again"; !strings.Contains(errb, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errb)
	}
	requests := 0
	for _, m := range w.Server.Messages() {
		if m.Attributes["manifest"] == "" {
			requests++
		}
	}
	if requests != 3 {
		t.Errorf("%d cancel requests published, want 3, one per listed name", requests)
	}
}

// TestSubmitListParentTakesOnlyNamesUnderTheParent: a name that
// operations.list answers is a name of the collection listed, never a
// message: one that is JSON (its batch and reason would win over
// --batch), or one outside the collection, is refused, escaped, and
// nothing is published.
func TestSubmitListParentTakesOnlyNamesUnderTheParent(t *testing.T) {
	t.Parallel()
	const parent = "enterprises/e1/devices/d1/operations"
	for name, tt := range map[string]struct{ listed, want string }{
		"a message": {`{"name":"enterprises/e1/devices/d1/operations/x","batch":"someone-elses","reason":"hi"}`,
			`named "{\"name\":\"enterprises/e1/devices/d1/operations/x\",\"batch\":\"someone-elses\",\"reason\":\"hi\"}", which is not under ` + parent + "/"},
		"another collection": {"enterprises/zz/devices/d9/operations/x\x1b[2J", `named "enterprises/zz/devices/d9/operations/x\x1b[2J", which is not under`},
	} {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := json.Marshal(map[string]any{"operations": []map[string]string{{"name": parent + "/ok"}, {"name": tt.listed}}})
			w.Write(b)
		}))
		w := newPstestWorld(t, api.URL)
		out, errb, code, err := runCLI(t, map[string]string{"PUBSUB_EMULATOR_HOST": w.Server.Addr}, "submit", "--project=p", "--topic="+w.Topic,
			"--config="+w.Config, "--auth=none", "--service="+amapiHost, "--list-parent="+parent, "--batch=mine")
		api.Close()
		if code != 1 || !strings.Contains(fmt.Sprint(err), tt.want) {
			t.Errorf("%s: exit %d (%v), want 1 and %q\n%s\n%s", name, code, err, tt.want, out, errb)
		}
		if msgs := w.Server.Messages(); len(msgs) != 0 {
			t.Errorf("%s: %d messages published, want none", name, len(msgs))
		}
	}
}

// TestSubmitListParentOutsideTheAllowList: a --list-parent none of whose
// operations the service's allow list admits is a usage error, before
// anything is listed: every name listed would be refused anyway, and the
// deployment has no business under that parent.
func TestSubmitListParentOutsideTheAllowList(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, `{"operations":[]}`)
	}))
	defer srv.Close()
	err := submitListParent(t, srv.URL, `allow: ["enterprises/LC01234/**"]`, "enterprises/LC09999/devices/d1/operations")
	if exitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "allow list") {
		t.Errorf("submit = exit %d, %v; want exit 2 naming the allow list", exitCode(err), err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d list requests, want none", n)
	}
}

// submitListParent runs submit --list-parent of Android Management at
// endpoint, its services-file entry with the key line more.
func submitListParent(t *testing.T, endpoint, more, parent string) error {
	t.Helper()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte("services:\n  - host: androidmanagement.googleapis.com\n    endpoint: "+endpoint+"\n    "+more+"\n"), 0o600)
	var out, errb bytes.Buffer
	return run(context.Background(), []string{"submit", "--project=p", "--topic=requests", "--config=" + config, "--auth=none",
		"--service=androidmanagement.googleapis.com", "--list-parent=" + parent, "--yes"},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": "127.0.0.1:1"}), strings.NewReader(""), &out, &errb)
}
