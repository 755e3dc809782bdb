package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/lro/lrotest"
)

// TestSubmitListParentWithUserCredentials runs the real binary as an
// operator's laptop does, `submit --list-parent` with the user credentials
// of "gcloud auth application-default login": the list request carries the
// quota project, GOOGLE_CLOUD_QUOTA_PROJECT's over the credentials' own;
// credentials without one end submit at once with the command to run, and
// no request leaves.
func TestSubmitListParentWithUserCredentials(t *testing.T) {
	t.Parallel()
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"` + knownToken + `","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(tokens.Close)
	tests := []struct {
		name     string
		file     string // the credentials' quota_project_id
		env      string // GOOGLE_CLOUD_QUOTA_PROJECT
		want     string // the list request's x-goog-user-project
		wantExit int
		wantErr  string
	}{
		{name: "the credentials' quota project", file: "file-proj", want: "file-proj"},
		{name: "GOOGLE_CLOUD_QUOTA_PROJECT wins", file: "file-proj", env: "env-proj", want: "env-proj"},
		{name: "none", wantExit: 1, wantErr: `run "gcloud auth application-default set-quota-project PROJECT"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lrotest.New(lrotest.Options{})
			fake.Set("enterprises/e1/devices/d1/operations/o1", lrotest.Script{})
			srv := httptest.NewTLSServer(fake)
			t.Cleanup(srv.Close)
			dir := t.TempDir()
			adc := map[string]string{"type": "authorized_user", "client_id": "c.apps.googleusercontent.com", "client_secret": "s",
				"refresh_token": "1//r", "token_uri": tokens.URL + "/token"}
			if tt.file != "" {
				adc["quota_project_id"] = tt.file
			}
			js, _ := json.Marshal(adc)
			files := map[string][]byte{
				"adc.json":      js,
				"ca.pem":        pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
				"services.yaml": []byte(lrotest.ServicesYAML(lrotest.AllAt(srv.URL), lrotest.TokensToFakes(lrotest.AllAt(srv.URL), nil))),
			}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(binary(t), "submit", "--project=p", "--topic=requests", "--config="+filepath.Join(dir, "services.yaml"),
				"--service="+amapiHost, "--list-parent=enterprises/e1/devices/d1/operations", "--yes", "--dry-run")
			cmd.Env = []string{"HOME=" + dir, "GOOGLE_APPLICATION_CREDENTIALS=" + filepath.Join(dir, "adc.json"), "SSL_CERT_FILE=" + filepath.Join(dir, "ca.pem")}
			if tt.env != "" {
				cmd.Env = append(cmd.Env, "GOOGLE_CLOUD_QUOTA_PROJECT="+tt.env)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Run()
			if got := cmd.ProcessState.ExitCode(); got != tt.wantExit || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("submit exited %d, want %d with %q:\n%s", got, tt.wantExit, tt.wantErr, stderr.String())
			}
			reqs := fake.Requests()
			if tt.want == "" {
				if len(reqs) != 0 {
					t.Errorf("%d requests reached the API, want none", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Kind != "list" {
				t.Fatalf("requests %v, want one list", reqs)
			}
			if got := reqs[0].Header.Get("X-Goog-User-Project"); got != tt.want {
				t.Errorf("x-goog-user-project %q, want %q", got, tt.want)
			}
		})
	}
}
