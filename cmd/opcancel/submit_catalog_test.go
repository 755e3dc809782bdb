package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// --list-parent pages through the operations of an API enabled from the
// catalog, in its dialect: Cloud SQL lists bare operation IDs under
// "items", which become full names the worker routes.
func TestSubmitListParentOfACatalogAPI(t *testing.T) {
	t.Parallel()
	sql, _ := lro.KnownAPI("sqladmin.googleapis.com", "")
	fake := lrotest.New(lrotest.Options{Services: []*lro.Service{lro.ServiceOf(sql)}})
	const parent = "projects/p/operations"
	for i := range 7 {
		fake.Set(fmt.Sprintf("%s/op-%d", parent, i), lrotest.Script{AlreadyDone: i%3 == 0})
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte("services:\n  - host: sqladmin.googleapis.com\n    endpoint: "+srv.URL+"\n"), 0o600)
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"submit", "--project=p", "--topic=requests", "--dry-run", "--config=" + config, "--auth=none",
		"--service=sqladmin.googleapis.com", "--list-parent=" + parent}, getenvFrom(nil), strings.NewReader(""), &out, &errb)
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), parent+": 7 operations in 1 pages, 4 not done") {
		t.Errorf("stderr = %q", errb.String())
	}
	if !strings.HasPrefix(out.String(), "valid (dry run, nothing published): 4, invalid: 0,") {
		t.Errorf("summary = %q", out.String())
	}
	if reqs := fake.Requests(); len(reqs) != 1 || reqs[0].Path != "/v1/"+parent || reqs[0].Kind != "list" {
		t.Errorf("requests = %+v, want one list of /v1/%s", reqs, parent)
	}
}

func TestSubmitToAKnownAPINotEnabled(t *testing.T) {
	t.Parallel()
	_, _, code, err := runCLI(t, nil, "submit", "--project=p", "--topic=requests", "--dry-run",
		"--service=sqladmin.googleapis.com", "projects/p/operations/o")
	want := `--service "sqladmin.googleapis.com": invalid: service "sqladmin.googleapis.com" is known but not enabled; the services file line "- host: sqladmin.googleapis.com" enables it`
	if code != 2 || err == nil || err.Error() != want {
		t.Errorf("exit %d, %v; want 2 and %q", code, err, want)
	}
}
