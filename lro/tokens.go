package lro

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"
)

// credentials are what the requests of a (scopes, subject) carry: a token,
// and the project billed for their quota, if any.
type credentials struct {
	tokens       oauth2.TokenSource
	quotaProject string
}

// tokenCache shares one token source per distinct (scopes, subject).
type tokenCache struct {
	make    func(ctx context.Context, scopes []string, subject string) (credentials, error)
	mu      sync.Mutex
	sources map[string]*renewableTokens
}

// newTokenCache makes credentials with f, nil meaning Application Default
// Credentials. quotaProject (GOOGLE_CLOUD_QUOTA_PROJECT) overrides theirs.
func newTokenCache(f TokenSourceFunc, quotaProject string) *tokenCache {
	c := &tokenCache{sources: map[string]*renewableTokens{}}
	c.make = func(ctx context.Context, scopes []string, subject string) (credentials, error) {
		if f == nil {
			return adcCredentials(ctx, scopes, subject, quotaProject)
		}
		ts, err := f(ctx, scopes, subject)
		return credentials{tokens: ts, quotaProject: quotaProject}, err
	}
	return c
}

// get returns the token source of (scopes, subject), making it on first
// use: credentials that cannot be found are an error here, at start-up.
func (c *tokenCache) get(ctx context.Context, scopes []string, subject string) (*renewableTokens, error) {
	sorted := slices.Clone(scopes)
	slices.Sort(sorted)
	key := strings.Join(sorted, " ") + "\x00" + subject
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts, ok := c.sources[key]; ok {
		return ts, nil
	}
	// Sources live as long as the process: a renewal is not bound to the
	// context of the start-up.
	bg := context.WithoutCancel(ctx)
	creds, err := c.make(bg, sorted, subject)
	if err != nil {
		return nil, err
	}
	ts := &renewableTokens{ts: creds.tokens, quotaProject: creds.quotaProject, make: func() (oauth2.TokenSource, error) {
		creds, err := c.make(bg, sorted, subject)
		return creds.tokens, err
	}}
	c.sources[key] = ts
	return ts, nil
}

// renewableTokens is the token source of one (scopes, subject). It keeps
// its token until shortly before the token expires; renew drops a token the
// API rejected. The token sources of Application Default Credentials cache
// their token themselves, so a renewal makes a new source rather than
// asking the old one again.
//
// A fetch runs on a goroutine of its own, shared by the requests that need
// a token meanwhile, and each request waits for it only as long as its own
// context allows: a token endpoint that hangs costs a request its timeout,
// never more, and never holds the other requests behind a lock. The fetch
// itself ends within tokenFetchTimeout on every path adcTokenSource makes.
type renewableTokens struct {
	make func() (oauth2.TokenSource, error)
	// quotaProject is sent with every token, if not empty.
	quotaProject string
	mu           sync.Mutex
	ts           oauth2.TokenSource // nil after a renewal, until the next fetch makes one
	tok          *oauth2.Token      // the token last fetched; nil after a renewal
	// pending is the fetch in progress, nil if none.
	pending *tokenFetch
}

// tokenFetch is one fetch of a token; done is closed once tok and err are set.
type tokenFetch struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

// Token returns the cached token while it is valid, else waits for a fetch
// until ctx ends.
func (r *renewableTokens) Token(ctx context.Context) (*oauth2.Token, error) {
	r.mu.Lock()
	if r.tok.Valid() {
		tok := r.tok
		r.mu.Unlock()
		return tok, nil
	}
	f := r.pending
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		r.pending = f
		go r.fetch(f, r.ts)
	}
	r.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, fmt.Errorf("no token within the request's time: %w", ctx.Err())
	}
}

// fetch gets a token from ts, making a source first when there is none.
func (r *renewableTokens) fetch(f *tokenFetch, ts oauth2.TokenSource) {
	var err error
	if ts == nil {
		ts, err = r.make()
	}
	var tok *oauth2.Token
	if err == nil {
		tok, err = ts.Token()
	}
	r.mu.Lock()
	r.pending = nil
	if err == nil {
		r.ts, r.tok = ts, tok
	}
	r.mu.Unlock()
	f.tok, f.err = tok, err
	close(f.done)
}

// renew drops the source whose token the API rejected, unless that token
// has been renewed already (by a concurrent request rejected for it too).
func (r *renewableTokens) renew(rejected string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tok != nil && r.tok.AccessToken == rejected {
		r.ts, r.tok = nil, nil
	}
}
