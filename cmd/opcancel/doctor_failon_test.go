package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// What the doctor makes of answers that are not answers: an API that does
// not answer (--fail-on), and a subscription nothing could be learnt about.

// TestDoctorFailOn: an endpoint that does not answer fails the doctor with
// --fail-on=any (the default), and is a warning with --fail-on=config (the
// init container, so that one sick API does not hold every new pod in
// Init); a configuration fault, an endpoint that is not Google's, fails
// with either.
func TestDoctorFailOn(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		http.Error(rw, "<html><body>404 page not found (nginx)</body></html>", http.StatusNotFound)
	}))
	t.Cleanup(proxy.Close)
	w.vaultURL = proxy.URL
	w.amapiURL = "https://" + closedPort(t)
	for _, tt := range []struct {
		args      []string
		unreached string
	}{
		{nil, checkFail},
		{[]string{"--fail-on=any"}, checkFail},
		{[]string{"--fail-on=config"}, checkWarn},
	} {
		r := w.run(t, nil, tt.args...)
		if c := r.check(t, "endpoint "+amapiHost); c.Status != tt.unreached || !strings.Contains(c.Detail, "no answer") {
			t.Errorf("%v: endpoint %s: %s, %q; want %s, no answer", tt.args, amapiHost, c.Status, c.Detail, tt.unreached)
		}
		if c := r.check(t, "endpoint "+vaultHost); c.Status != checkFail {
			t.Errorf("%v: endpoint %s: %s, %q; want fail: not Google's API", tt.args, vaultHost, c.Status, c.Detail)
		}
		if r.code != 1 {
			t.Errorf("%v: exit %d, want 1", tt.args, r.code)
		}
	}
	// With the configuration fault fixed, the unanswered API alone.
	w.vaultURL = w.amapiURL
	if r := w.run(t, nil, "--fail-on=config"); r.code != 0 || !r.OK {
		t.Errorf("--fail-on=config, only APIs that do not answer: exit %d, ok %v; want 0: %+v", r.code, r.OK, r.Checks)
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDoctorSaysOKOnlyForWhatAnswered: when the subscription cannot be
// read (for a reason other than NOT_FOUND) and the permission test fails
// too, nothing said the subscription exists: the line is a warning that
// says it was not checked, not ok.
func TestDoctorSaysOKOnlyForWhatAnswered(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	w.iam.refuse = map[string]codes.Code{"GetSubscription": codes.PermissionDenied, "TestIamPermissions": codes.Internal}
	r := w.run(t, nil)
	if c := r.check(t, "subscription"); c.Status != checkWarn || !strings.Contains(c.Detail, "not checked") {
		t.Errorf("subscription: %s, %q; want warn, not checked", c.Status, c.Detail)
	}
}
