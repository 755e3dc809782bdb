package lro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// adcCredentials returns the credentials of Application Default
// Credentials for scopes, with their quota project (see quotaProjectOf;
// override is GOOGLE_CLOUD_QUOTA_PROJECT). With a subject (domain-wide
// delegation, as the Vault API needs to act as a Workspace user), a
// service-account key file signs the delegated JWT itself; on the metadata
// server (GKE Workload Identity, Compute Engine) the service account signs
// it through the IAM Credentials API, which needs
// roles/iam.serviceAccountTokenCreator on itself. Every token endpoint on
// these paths is reached through a client bounded by tokenFetchTimeout.
func adcCredentials(ctx context.Context, scopes []string, subject, override string) (credentials, error) {
	// The token source lives as long as the process; its fetches get their
	// own bounded HTTP client rather than the caller's context.
	bg := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Timeout: tokenFetchTimeout})
	creds, err := google.FindDefaultCredentialsWithParams(bg, google.CredentialsParams{Scopes: scopes, Subject: subject})
	if err != nil {
		return credentials{}, err
	}
	ts, err := adcTokenSource(bg, creds, scopes, subject)
	if err != nil {
		return credentials{}, err
	}
	project, err := quotaProjectOf(creds.JSON, override)
	if err != nil {
		return credentials{}, err
	}
	return credentials{tokens: ts, quotaProject: project}, nil
}

// adcTokenSource returns the token source of creds, found for scopes and
// subject.
func adcTokenSource(bg context.Context, creds *google.Credentials, scopes []string, subject string) (oauth2.TokenSource, error) {
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
	return delegatedTokenSource(bg, base.TokenSource, email, scopes, subject, http.DefaultTransport)
}

// delegatedTokenSource is keyless domain-wide delegation: the service
// account email, with the token of base, has the IAM Credentials API sign a
// JWT for subject, and exchanges it for a token of scopes. Both calls go
// through rt in a client bounded by tokenFetchTimeout: the library's own
// client has no timeout, and a token endpoint that never answers would
// otherwise hold the fetch forever.
func delegatedTokenSource(ctx context.Context, base oauth2.TokenSource, email string, scopes []string, subject string, rt http.RoundTripper) (oauth2.TokenSource, error) {
	// roundTripOnly hides oauth2.Transport's deprecated CancelRequest, which
	// http.Client would otherwise call, and log about, on a timeout.
	client := &http.Client{Timeout: tokenFetchTimeout, Transport: roundTripOnly{&oauth2.Transport{Source: base, Base: rt}}}
	return impersonate.CredentialsTokenSource(ctx, impersonate.CredentialsConfig{
		TargetPrincipal: email,
		Scopes:          scopes,
		Subject:         subject,
	}, option.WithHTTPClient(client))
}

// roundTripOnly is a RoundTripper with no other method.
type roundTripOnly struct{ rt http.RoundTripper }

func (r roundTripOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	return r.rt.RoundTrip(req)
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

// authTransport attaches a bearer token, and its quota project, but only to
// https requests for the hosts it was made for: one service's endpoint and
// regional endpoints.
// When the API rejects the token (HTTP 401, UNAUTHENTICATED: revoked, or
// signed by a rotated key, before it expires), it renews the token and sends
// the request once more: the one retry of this layer, within the request's
// own timeout, seen by the caller as one request.
type authTransport struct {
	base   http.RoundTripper
	tokens *renewableTokens
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
	tok, err := t.tokens.Token(req.Context())
	if err != nil {
		return refuse(&credentialError{err: err})
	}
	resp, err := t.send(req, tok)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxBodyBytes))
	resp.Body.Close()
	t.tokens.renew(tok.AccessToken)
	if tok, err = t.tokens.Token(req.Context()); err != nil {
		return nil, &credentialError{err: err}
	}
	return t.send(req, tok)
}

// send sends req with tok, on a copy of req.
func (t *authTransport) send(req *http.Request, tok *oauth2.Token) (*http.Response, error) {
	r := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	if t.tokens.quotaProject != "" {
		r.Header.Set(quotaProjectHeader, t.tokens.quotaProject)
	}
	return t.base.RoundTrip(r)
}

// replayable reports whether req can be sent a second time: it has no body,
// or a way to get its body again.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}
