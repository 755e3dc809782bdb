package lro_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// userADC writes Application Default Credentials of type authorized_user,
// as "gcloud auth application-default login" does, whose token endpoint is
// tokens, with quotaProject unless it is empty; it points
// GOOGLE_APPLICATION_CREDENTIALS at them.
func userADC(t *testing.T, tokens *tokenEndpoint, quotaProject string) {
	t.Helper()
	f := map[string]string{
		"type": "authorized_user", "client_id": "764086051850-x.apps.googleusercontent.com",
		"client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty", "refresh_token": "1//refresh",
		"token_uri": tokens.srv.URL + "/token",
	}
	if quotaProject != "" {
		f["quota_project_id"] = quotaProject
	}
	js, _ := json.Marshal(f)
	path := filepath.Join(t.TempDir(), "application_default_credentials.json")
	if err := os.WriteFile(path, js, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
}

// tokenEndpoint is an OAuth token endpoint that exchanges the refresh
// token of userADC for the access token "user-token", recording the
// headers of each request.
type tokenEndpoint struct {
	srv     *httptest.Server
	mu      sync.Mutex
	headers []http.Header
}

func newTokenEndpoint(t *testing.T) *tokenEndpoint {
	e := &tokenEndpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.headers = append(e.headers, r.Header.Clone())
		e.mu.Unlock()
		if r.ParseForm() != nil || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "1//refresh" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"user-token","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(e.srv.Close)
	return e
}

// TestUserCredentialsSendTheirQuotaProject: with user credentials (a
// laptop's "gcloud auth application-default login"), every request to an
// API carries the quota project in x-goog-user-project: the credentials'
// quota_project_id, or GOOGLE_CLOUD_QUOTA_PROJECT, which wins as it does in
// Google's auth libraries. User credentials without one fail at start with
// a line that says what to run. Not parallel: it sets the environment that
// Application Default Credentials read.
func TestUserCredentialsSendTheirQuotaProject(t *testing.T) {
	tests := []struct {
		name     string
		file     string // the credentials' quota_project_id
		override string // lro.Config.QuotaProject: GOOGLE_CLOUD_QUOTA_PROJECT
		want     string // the header; empty for none
		wantErr  string
	}{
		{name: "from the credentials", file: "file-proj", want: "file-proj"},
		{name: "GOOGLE_CLOUD_QUOTA_PROJECT wins", file: "file-proj", override: "env-proj", want: "env-proj"},
		{name: "GOOGLE_CLOUD_QUOTA_PROJECT alone", override: "env-proj", want: "env-proj"},
		{name: "none", wantErr: `run "gcloud auth application-default set-quota-project PROJECT"`},
		{name: "not a project", file: "file-proj\r\nX-Evil: 1", wantErr: `quota project "file-proj\r\nX-Evil: 1"`},
		{name: "GOOGLE_CLOUD_QUOTA_PROJECT not a project", file: "file-proj", override: "Env Proj", wantErr: `quota project "Env Proj" (GOOGLE_CLOUD_QUOTA_PROJECT)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens := newTokenEndpoint(t)
			userADC(t, tokens, tt.file)
			fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
			table := newTable(t, "https://fake.test", lro.AuthADC)
			c, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthADC, QuotaProject: tt.override, Transport: fake.Transport()})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Cancel(context.Background(), table.Lookup("vault.googleapis.com"), "operations/x"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(context.Background(), table.Lookup("androidmanagement.googleapis.com"), "enterprises/e/devices/d/operations/o"); err != nil {
				t.Fatal(err)
			}
			for _, r := range fake.Requests() {
				if got := r.Header.Get("X-Goog-User-Project"); got != tt.want || r.Header.Get("Authorization") != "Bearer user-token" {
					t.Errorf("%s %s: x-goog-user-project %q, authorization %q; want %q with the user's token", r.Method, r.Path, got, r.Header.Get("Authorization"), tt.want)
				}
			}
			tokens.mu.Lock()
			defer tokens.mu.Unlock()
			for _, h := range tokens.headers {
				if got := h.Get("X-Goog-User-Project"); got != "" {
					t.Errorf("the token endpoint got x-goog-user-project %q", got)
				}
			}
		})
	}
}

// TestQuotaProjectOnlyWithCredentials: GOOGLE_CLOUD_QUOTA_PROJECT goes with
// the token, to the services' own hosts, and with --auth=none (an
// emulator, a test) nowhere.
func TestQuotaProjectOnlyWithCredentials(t *testing.T) {
	t.Parallel()
	for _, auth := range []string{lro.AuthADC, lro.AuthNone} {
		fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
		c, table := newClient(t, "https://fake.test", lro.Config{Auth: auth, TokenSource: staticTokens, QuotaProject: "env-proj", Transport: fake.Transport()})
		if err := c.Cancel(context.Background(), table.Lookup("vault.googleapis.com"), "operations/x"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{lro.AuthADC: "env-proj", lro.AuthNone: ""}[auth]
		if got := fake.Requests()[0].Header.Get("X-Goog-User-Project"); got != want {
			t.Errorf("--auth=%s: x-goog-user-project %q, want %q", auth, got, want)
		}
	}
}
