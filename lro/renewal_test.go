package lro_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// buildingTokens makes token sources that take buildTime to make, as
// Application Default Credentials do when they find a slow metadata
// server, counting the sources under construction at once. Sources made
// once failBuild is set are never made; tokens of sources made once
// failToken is set never come.
type buildingTokens struct {
	buildTime time.Duration

	mu                   sync.Mutex
	failBuild, failToken bool
	made                 int // sources asked for, made or not
	building, most       int
}

func (b *buildingTokens) make(context.Context, []string, string) (oauth2.TokenSource, error) {
	b.mu.Lock()
	b.made++
	n, failBuild, failToken := b.made, b.failBuild, b.failToken
	b.building++
	b.most = max(b.most, b.building)
	b.mu.Unlock()
	time.Sleep(b.buildTime)
	b.mu.Lock()
	b.building--
	b.mu.Unlock()
	if failBuild {
		return nil, errors.New("could not find default credentials")
	}
	return tokenFunc(func() (*oauth2.Token, error) {
		if failToken {
			return nil, errors.New("token endpoint unavailable")
		}
		return &oauth2.Token{AccessToken: fmt.Sprintf("t%d", n), TokenType: "Bearer"}, nil
	}), nil
}

type tokenFunc func() (*oauth2.Token, error)

func (f tokenFunc) Token() (*oauth2.Token, error) { return f() }

// TestRejectedTokenStormBuildsFewSources: an API rejects every token
// (401) while 20 requests at a time keep coming for a minute. Each
// rejection of the token in use asks for a renewal, and a renewal makes a
// new token source. However slow the making, at most one source is under
// construction at a time; renewals back off (1, 2, 4, … s), so the storm
// makes a handful of sources, not one per request; a source that cannot be
// made is tried again on the same backoff; a source made whose tokens do
// not come is asked again, not made anew.
func TestRejectedTokenStormBuildsFewSources(t *testing.T) {
	t.Parallel()
	const storm = time.Minute
	tests := []struct {
		name                 string
		buildTime            time.Duration
		failBuild, failToken bool
		// wantMost is the most sources the storm may make: 1 + one per
		// backoff of 1, 2, 4, 8 and 16 s within the minute.
		wantMost int
	}{
		{name: "sources made in 2 s", buildTime: 2 * time.Second, wantMost: 6},
		{name: "sources made slower than a request's timeout", buildTime: 15 * time.Second, wantMost: 6},
		{name: "sources that cannot be made", buildTime: 2 * time.Second, failBuild: true, wantMost: 6},
		{name: "sources whose tokens do not come", buildTime: 2 * time.Second, failToken: true, wantMost: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				unauthenticated := lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")
				fake := lrotest.New(lrotest.Options{
					Latency: 10 * time.Millisecond,
					Default: func(string) *lrotest.Script { return &lrotest.Script{Cancel: []lrotest.Answer{unauthenticated}} },
				})
				tokens := &buildingTokens{buildTime: tt.buildTime}
				c, table := newClient(t, "https://fake.test", lro.Config{
					Auth: lro.AuthADC, TokenSource: tokens.make, Transport: fake.Transport(), RequestTimeout: 10 * time.Second,
				})
				vault := table.Lookup("vault.googleapis.com")
				tokens.mu.Lock()
				startup := tokens.made
				tokens.failBuild, tokens.failToken = tt.failBuild, tt.failToken
				tokens.mu.Unlock()

				end := time.Now().Add(storm)
				var wg sync.WaitGroup
				for i := range 20 {
					wg.Go(func() {
						for n := 0; time.Now().Before(end); n++ {
							err := c.Cancel(context.Background(), vault, fmt.Sprintf("operations/w%d-%d", i, n))
							if lro.CodeOf(err) != lro.Unauthenticated || lro.Classify(err) != lro.Transient {
								t.Errorf("Cancel = %v, want a transient UNAUTHENTICATED", err)
								return
							}
							time.Sleep(100 * time.Millisecond) // a worker's retry backs off
						}
					})
				}
				wg.Wait()
				time.Sleep(tt.buildTime) // let a last construction end in the bubble

				tokens.mu.Lock()
				defer tokens.mu.Unlock()
				if tokens.most != 1 {
					t.Errorf("%d token sources under construction at once, want 1", tokens.most)
				}
				if got := tokens.made - startup; got < 1 || got > tt.wantMost {
					t.Errorf("%d token sources made in a minute of rejected tokens, want 1 to %d", got, tt.wantMost)
				}
			})
		})
	}
}
