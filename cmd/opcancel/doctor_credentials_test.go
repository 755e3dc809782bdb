package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// The doctor's credentials: none at all, a pod on Workload Identity whose
// binding is missing, and a metadata server that is not ready in the
// first seconds of a pod's life.

// TestDoctorWithoutCredentials: with no Application Default Credentials
// (here a GOOGLE_APPLICATION_CREDENTIALS naming no file) and Pub/Sub
// itself, not the emulator, the doctor reports one failed check,
// credentials, with its fix, in text and in JSON, and stops: exit 1.
func TestDoctorWithoutCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "missing.json"), "HOME=" + dir}
	for _, output := range []string{"json", "text"} {
		cmd := exec.Command(binary(t), "doctor", "--output="+output, "--subscription=projects/proj-doctor/subscriptions/worker")
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("--output=%s: %v, want exit 1\nstderr: %s", output, err, stderr.String())
		}
		const fix = "gcloud auth application-default login"
		if output == "text" {
			if line := stdout.String(); !strings.HasPrefix(line, "FAIL  credentials: ") || !strings.Contains(line, "missing.json") ||
				!strings.Contains(line, "; fix: "+fix) || strings.Count(line, "\n") != 1 {
				t.Errorf("--output=text:\n%s\nwant one line: FAIL  credentials: …missing.json…; fix: %s…", line, fix)
			}
			continue
		}
		var r doctorRun
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatalf("--output=json: %v\nstdout: %q\nstderr: %s", err, stdout.String(), stderr.String())
		}
		if r.OK || len(r.Checks) != 1 || r.Checks[0].Name != "credentials" || r.Checks[0].Status != checkFail || !strings.Contains(r.Checks[0].Fix, fix) {
			t.Errorf("--output=json: %+v, want ok false and one failed check credentials with the fix %q", r, fix)
		}
	}
}

// TestDoctorOnWorkloadIdentityWithoutTheBinding: on the GKE metadata server,
// a token refused for want of the Workload Identity binding (IAM denies
// iam.serviceAccounts.getAccessToken) is fixed by roles/iam.workloadIdentityUser
// for the pod's Kubernetes service account (its namespace and name from the
// component's downward API), not by roles/iam.serviceAccountTokenCreator.
func TestDoctorOnWorkloadIdentityWithoutTheBinding(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	md := newFakeMetadata(t, "opcancel@sa-proj.iam.gserviceaccount.com", "cluster-proj")
	md.unbound.Store(true)
	r := w.run(t, append(md.env, "POD_NAMESPACE=ops", "POD_SERVICE_ACCOUNT=canceller"))
	c := r.check(t, "token "+vaultHost)
	const fix = `gcloud iam service-accounts add-iam-policy-binding opcancel@sa-proj.iam.gserviceaccount.com --role=roles/iam.workloadIdentityUser --member="serviceAccount:cluster-proj.svc.id.goog[ops/canceller]"`
	if c.Status != checkFail || !strings.Contains(c.Fix, fix) || strings.Contains(c.Fix, "serviceAccountTokenCreator") {
		t.Errorf("token check: %s, %q, fix %q; want fail, fix %q", c.Status, c.Detail, c.Fix, fix)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	if c := r.check(t, "credentials"); c.Status != checkOK || !strings.Contains(c.Detail, "metadata server") {
		t.Errorf("credentials: %s, %q; want ok, from the metadata server", c.Status, c.Detail)
	}
}

// TestDoctorWaitsForTheMetadataServer: in the first seconds of a pod's
// life the GKE metadata server may not serve tokens yet. The doctor asks
// again within its window (docs/contract.md#opcancel-doctor) and passes
// once it does; here the server refuses more requests than the metadata
// client's own retries cover (6 a fetch).
func TestDoctorWaitsForTheMetadataServer(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	md := newFakeMetadata(t, "opcancel@sa-proj.iam.gserviceaccount.com", "cluster-proj")
	const unready = 8
	md.unready.Store(unready)
	r := w.run(t, md.env, "--fail-on=config")
	for _, host := range []string{vaultHost, amapiHost} {
		if c := r.check(t, "token "+host); c.Status != checkOK {
			t.Errorf("token %s: %s, %q; want ok once the metadata server serves", host, c.Status, c.Detail)
		}
	}
	if n := md.tokens.Load(); n <= unready {
		t.Errorf("%d token requests, want more than the %d refused", n, unready)
	}
	if r.code != 0 {
		t.Errorf("exit %d, want 0: %+v", r.code, r.Checks)
	}
}

// fakeMetadata is the GKE metadata server (GCE_METADATA_HOST) of a pod on
// Workload Identity, for Application Default Credentials with no key file:
// it names the Google service account and the cluster's project, and
// mints tokens, or refuses them as Google's does without the Workload
// Identity binding, or is not ready for the first requests of a pod's life.
type fakeMetadata struct {
	email, project string
	// unready answers that many token requests 503, as a metadata server
	// that cannot serve yet.
	unready atomic.Int64
	// unbound refuses every token: the Workload Identity binding is missing.
	unbound atomic.Bool
	// tokens counts the token requests.
	tokens atomic.Int64
	env    []string
}

// newFakeMetadata serves a metadata server on loopback, and the environment
// that makes Application Default Credentials use it: GCE_METADATA_HOST, no
// key file, a HOME without gcloud's.
func newFakeMetadata(t *testing.T, email, project string) *fakeMetadata {
	t.Helper()
	m := &fakeMetadata{email: email, project: project}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/computeMetadata/v1/instance/service-accounts/default/email":
			io.WriteString(w, m.email)
		case "/computeMetadata/v1/project/project-id":
			io.WriteString(w, m.project)
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			m.tokens.Add(1)
			switch {
			case m.unready.Add(-1) >= 0:
				http.Error(w, "metadata server not ready", http.StatusServiceUnavailable)
			case m.unbound.Load():
				http.Error(w, "Unable to generate access token; IAM returned 403 Forbidden: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).\n"+
					"This error could be caused by a missing IAM policy binding on the target IAM service account.", http.StatusForbidden)
			default:
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`, knownToken)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	m.env = []string{"GCE_METADATA_HOST=" + strings.TrimPrefix(srv.URL, "http://"), "GOOGLE_APPLICATION_CREDENTIALS=", "HOME=" + t.TempDir()}
	return m
}
