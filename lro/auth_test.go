package lro_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// hangingEndpoints is a transport to token endpoints that never answer: it
// records each request's host and waits until the request gives up.
type hangingEndpoints struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hangingEndpoints) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	<-r.Context().Done()
	return nil, r.Context().Err()
}

func (h *hangingEndpoints) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}

// TestTokenFetchIsBoundedByTheRequest: with keyless domain-wide delegation
// whose IAM Credentials endpoint never answers, a request gives up at its
// own timeout with a transient UNAUTHENTICATED, having sent nothing to the
// API; requests meanwhile share the one fetch; the fetch itself ends at the
// token fetch timeout, and the next request starts a new one.
func TestTokenFetchIsBoundedByTheRequest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		endpoints := &hangingEndpoints{}
		delegated := func(ctx context.Context, scopes []string, _ string) (oauth2.TokenSource, error) {
			base := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "metadata-server-token", TokenType: "Bearer"})
			return lro.DelegatedTokenSource(ctx, base, "opcancel@p.iam.gserviceaccount.com", scopes, "admin@example.com", endpoints)
		}
		fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
		const timeout = 10 * time.Second
		c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthADC, TokenSource: delegated, Transport: fake.Transport(), RequestTimeout: timeout})
		vault := table.Lookup("vault.googleapis.com")

		start := time.Now()
		var wg sync.WaitGroup
		for i, at := range []time.Duration{0, 5 * time.Second} {
			wg.Go(func() {
				time.Sleep(at)
				err := c.Cancel(context.Background(), vault, "operations/x")
				if lro.CodeOf(err) != lro.Unauthenticated || lro.Classify(err) != lro.Transient {
					t.Errorf("request %d = %v, want a transient UNAUTHENTICATED", i, err)
				}
				if d := time.Since(start); d != at+timeout {
					t.Errorf("request %d gave up after %v, want its timeout, at %v", i, d, at+timeout)
				}
			})
		}
		wg.Wait()
		if got := endpoints.requests(); len(got) != 1 || got[0] != "iamcredentials.googleapis.com" {
			t.Errorf("token endpoint requests %v, want one fetch from the IAM Credentials API shared by both", got)
		}
		if n := len(fake.Requests()); n != 0 {
			t.Errorf("%d requests reached the API without a token", n)
		}

		// The fetch gives up at the token fetch timeout; the next request
		// starts a new one rather than waiting behind the first forever.
		time.Sleep(lro.TokenFetchTimeout - time.Since(start))
		synctest.Wait()
		c.Cancel(context.Background(), vault, "operations/y")
		if got := endpoints.requests(); len(got) != 2 {
			t.Errorf("token endpoint requests %v, want a second fetch after the first timed out", got)
		}
		time.Sleep(lro.TokenFetchTimeout) // let the second fetch end in the bubble
	})
}
