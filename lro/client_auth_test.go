package lro_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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

// TestRejectedTokenIsRenewedForTheNextRequests: an API answering
// UNAUTHENTICATED (401) to a token that is cached and not yet expired
// (revoked, or its key rotated) gets no second request from the client: the
// 401 is the answer (the worker retries it through its service's gate), and
// the token is renewed for the requests that follow. Concurrent requests
// rejected for the same token renew it once; while every token is
// rejected, renewals back off (one new source per backoff, not one per
// request); once a token is accepted, the next rejection renews at once.
func TestRejectedTokenIsRenewedForTheNextRequests(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		unauthenticated := lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")
		var rejectAll atomic.Bool
		fake := lrotest.New(lrotest.Options{
			Latency: 10 * time.Millisecond, // the 10 requests below all leave with t1
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
			Fault: func(r *http.Request) *lrotest.Answer {
				if rejectAll.Load() || r.Header.Get("Authorization") == "Bearer t1" {
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
				if err := c.Cancel(context.Background(), vault, fmt.Sprintf("operations/o%d", i)); lro.CodeOf(err) != lro.Unauthenticated {
					t.Errorf("Cancel with the rejected token = %v, want UNAUTHENTICATED", err)
				}
			})
		}
		wg.Wait()
		if n := len(fake.Requests()); n != 10 {
			t.Errorf("%d requests for 10 cancels, want 10: the client sends none again", n)
		}
		if err := c.Cancel(context.Background(), vault, "operations/next"); err != nil {
			t.Errorf("Cancel after the renewal = %v, want it accepted with a fresh token", err)
		}
		if got := tokens.count(); got != made+1 {
			t.Errorf("token sources made = %d, want %d: one renewal for all the requests rejected for t1", got, made+1)
		}
		if len(obs.finished) != 11 {
			t.Errorf("observer saw %d requests, want 11", len(obs.finished))
		}

		// Every token rejected, a request every 100 ms for 10 s: renewals at
		// 0, 1, 3 and 7 s (the backoff doubles from 1 s), not one a request.
		rejectAll.Store(true)
		before := tokens.count()
		for i := range 100 {
			c.Cancel(context.Background(), vault, fmt.Sprintf("operations/r%d", i))
			time.Sleep(100 * time.Millisecond)
		}
		if got := tokens.count() - before; got != 4 {
			t.Errorf("%d token sources made for 100 rejected requests over 10 s, want 4 (renewals backing off)", got)
		}
		// Accepted again: the next rejection renews at once.
		rejectAll.Store(false)
		if err := c.Cancel(context.Background(), vault, "operations/accepted"); err != nil {
			t.Fatalf("Cancel = %v", err)
		}
		rejectAll.Store(true)
		before = tokens.count()
		c.Cancel(context.Background(), vault, "operations/rejected")
		c.Cancel(context.Background(), vault, "operations/after")
		if got := tokens.count() - before; got != 1 {
			t.Errorf("%d token sources made for a rejection after an accepted token, want 1, at once", got)
		}
	})
}
