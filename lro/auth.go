package lro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/impersonate"
	"google.golang.org/api/option"
)

// TokenSourceFunc makes the token source for a set of scopes and an optional
// domain-wide-delegation subject.
type TokenSourceFunc func(ctx context.Context, scopes []string, subject string) (oauth2.TokenSource, error)

// tokenFetchTimeout bounds one token fetch from a token endpoint.
const tokenFetchTimeout = 30 * time.Second

// cloudPlatformScope is the scope of the metadata server's own token, and of
// a services-file entry that names none.
const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// adcTokenSource returns a cached token source from Application Default
// Credentials for scopes. With a subject (domain-wide delegation, as the Vault
// API needs to act as a Workspace user), a service-account key file signs the
// delegated JWT itself; on the metadata server (GKE Workload Identity, Compute
// Engine) the service account signs it through the IAM Credentials API, which
// needs roles/iam.serviceAccountTokenCreator on itself.
func adcTokenSource(ctx context.Context, scopes []string, subject string) (oauth2.TokenSource, error) {
	// The token source lives as long as the process; its fetches get their
	// own bounded HTTP client rather than the caller's context.
	bg := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Timeout: tokenFetchTimeout})
	creds, err := google.FindDefaultCredentialsWithParams(bg, google.CredentialsParams{Scopes: scopes, Subject: subject})
	if err != nil {
		return nil, err
	}
	if subject == "" {
		return creds.TokenSource, nil
	}
	if credentialsType(creds.JSON) == "service_account" {
		return creds.TokenSource, nil // the key file signs the delegated JWT
	}
	if creds.JSON != nil {
		return nil, fmt.Errorf("subject %q (domain-wide delegation) needs a service account: a key file or the metadata server, not %q credentials", subject, credentialsType(creds.JSON))
	}
	email, err := metadata.EmailWithContext(bg, "default")
	if err != nil {
		return nil, fmt.Errorf("subject %q: find the metadata server's service account: %w", subject, err)
	}
	base, err := google.FindDefaultCredentials(bg, cloudPlatformScope)
	if err != nil {
		return nil, err
	}
	return impersonate.CredentialsTokenSource(bg, impersonate.CredentialsConfig{
		TargetPrincipal: email,
		Scopes:          scopes,
		Subject:         subject,
	}, option.WithTokenSource(base.TokenSource))
}

func credentialsType(js []byte) string {
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(js, &f) != nil {
		return ""
	}
	return f.Type
}

// tokenCache shares one token source per distinct (scopes, subject).
type tokenCache struct {
	make    TokenSourceFunc
	mu      sync.Mutex
	sources map[string]oauth2.TokenSource
}

func newTokenCache(f TokenSourceFunc) *tokenCache {
	if f == nil {
		f = adcTokenSource
	}
	return &tokenCache{make: f, sources: map[string]oauth2.TokenSource{}}
}

func (c *tokenCache) get(ctx context.Context, scopes []string, subject string) (oauth2.TokenSource, error) {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	key := strings.Join(sorted, " ") + "\x00" + subject
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts, ok := c.sources[key]; ok {
		return ts, nil
	}
	ts, err := c.make(ctx, sorted, subject)
	if err != nil {
		return nil, err
	}
	// ReuseTokenSource caches the token until shortly before it expires.
	ts = oauth2.ReuseTokenSource(nil, ts)
	c.sources[key] = ts
	return ts, nil
}

// Sentinel errors of the authenticating transport. They mean a request was
// refused before it left the process.
var (
	// errPlainHTTP: a token would have been sent over plain http.
	errPlainHTTP = errors.New("refusing to send a bearer token over plain http")
	// errForeignHost: a token would have been sent to a host other than the service's endpoint.
	errForeignHost = errors.New("refusing to send a bearer token to a host outside the service's endpoints")
)

// credentialError wraps a failure to obtain a token.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "token: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// authTransport attaches a bearer token, but only to https requests for the
// hosts it was made for: one service's endpoint and regional endpoints.
type authTransport struct {
	base   http.RoundTripper
	tokens oauth2.TokenSource
	hosts  []string
}

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	refuse := func(err error) (*http.Response, error) {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, err
	}
	if req.URL.Scheme != "https" {
		return refuse(errPlainHTTP)
	}
	if !slices.Contains(t.hosts, req.URL.Host) {
		return refuse(fmt.Errorf("%w (%s)", errForeignHost, req.URL.Host))
	}
	tok, err := t.tokens.Token()
	if err != nil {
		return refuse(&credentialError{err: err})
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	return t.base.RoundTrip(r)
}
