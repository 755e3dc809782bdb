package lro_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

func TestCredentialFailureIsUnauthenticated(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	failing := func(context.Context, []string, string) (oauth2.TokenSource, error) { return failingTokens{}, nil }
	c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthADC, TokenSource: failing, Transport: fake.Transport()})
	err := c.Cancel(context.Background(), table.Lookup("vault.googleapis.com"), "operations/x")
	if lro.CodeOf(err) != lro.Unauthenticated || lro.Classify(err) != lro.Transient {
		t.Errorf("Cancel = %v (code %v), want transient UNAUTHENTICATED", err, lro.CodeOf(err))
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
}

func TestTokenSourcesAreShared(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	made := map[string]int{}
	counting := func(_ context.Context, scopes []string, subject string) (oauth2.TokenSource, error) {
		mu.Lock()
		made[strings.Join(scopes, " ")+"|"+subject]++
		mu.Unlock()
		return staticTokens(context.Background(), nil, "")
	}
	table, err := lro.ParseTable("t.yaml", []byte(`
services:
  - host: a.googleapis.com
    patterns: ["a/*/operations/*"]
    scopes: ["https://s/2", "https://s/1"]
  - host: b.googleapis.com
    patterns: ["b/*/operations/*"]
    scopes: ["https://s/1", "https://s/2"]
  - host: c.googleapis.com
    patterns: ["c/*/operations/*"]
    scopes: ["https://s/1", "https://s/2"]
    subject: admin@example.com
`), lro.FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lro.New(context.Background(), table, lro.Config{TokenSource: counting}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"https://www.googleapis.com/auth/ediscovery|":        1,
		"https://www.googleapis.com/auth/androidmanagement|": 1,
		"https://s/1 https://s/2|":                           1,
		"https://s/1 https://s/2|admin@example.com":          1,
	}
	if diff := cmp.Diff(want, made); diff != "" {
		t.Errorf("token sources made (-want +got):\n%s", diff)
	}
}

// rotatingTokens makes token sources that each hand out one token, "t1",
// "t2", …, counting how many it made.
type rotatingTokens struct {
	mu   sync.Mutex
	made int
}

func (r *rotatingTokens) make(context.Context, []string, string) (oauth2.TokenSource, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.made++
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fmt.Sprintf("t%d", r.made), TokenType: "Bearer"}), nil
}

func (r *rotatingTokens) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.made
}

// TestRejectedTokenIsRenewedOnce: an API answering UNAUTHENTICATED (401)
// to a token that is cached and not yet expired (revoked, or its key
// rotated) gets the request again, once, with a fresh token; concurrent
// requests rejected for the same token renew it once; a fresh token that is
// rejected too is the answer.
func TestRejectedTokenIsRenewedOnce(t *testing.T) {
	t.Parallel()
	unauthenticated := lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")
	var mu sync.Mutex
	rejectAll := false
	fake := lrotest.New(lrotest.Options{
		Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		Fault: func(r *http.Request) *lrotest.Answer {
			mu.Lock()
			defer mu.Unlock()
			if rejectAll || r.Header.Get("Authorization") == "Bearer t1" {
				return &unauthenticated
			}
			return nil
		},
	})
	tokens := &rotatingTokens{}
	obs := &recordingObserver{}
	c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthADC, TokenSource: tokens.make, Transport: fake.Transport(), Observer: obs})
	vault := table.Lookup("vault.googleapis.com") // its source made first: t1
	made := tokens.count()                        // one source per distinct scopes

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if err := c.Cancel(context.Background(), vault, fmt.Sprintf("operations/o%d", i)); err != nil {
				t.Errorf("Cancel = %v, want it accepted with a fresh token", err)
			}
		})
	}
	wg.Wait()
	if got := tokens.count(); got != made+1 {
		t.Errorf("token sources made = %d, want %d: one renewal for all the requests rejected for t1", got, made+1)
	}
	var auths []string
	for _, r := range fake.Requests() {
		auths = append(auths, r.Header.Get("Authorization"))
	}
	slices.Sort(auths)
	auths = slices.Compact(auths)
	if diff := cmp.Diff([]string{"Bearer t1", fmt.Sprintf("Bearer t%d", made+1)}, auths); diff != "" {
		t.Errorf("tokens sent (-want +got):\n%s", diff)
	}
	if len(obs.finished) != 10 {
		t.Errorf("observer saw %d requests, want 10: the renewal is part of one request", len(obs.finished))
	}

	// Every token rejected: the second answer stands, after one renewal.
	mu.Lock()
	rejectAll = true
	mu.Unlock()
	before := len(fake.Requests())
	err := c.Cancel(context.Background(), vault, "operations/x")
	if lro.CodeOf(err) != lro.Unauthenticated {
		t.Errorf("Cancel = %v, want UNAUTHENTICATED", err)
	}
	if n := len(fake.Requests()) - before; n != 2 {
		t.Errorf("%d requests for one cancel, want 2 (one renewal, no more)", n)
	}
}
