package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"opcancel/lro"
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
