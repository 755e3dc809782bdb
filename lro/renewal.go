package lro

import (
	"sync/atomic"
	"time"
)

// Renewals of a rejected token back off: the first at once, the next no
// sooner than renewalBackoffMin later, doubling up to renewalBackoffMax
// while the APIs keep rejecting tokens, and from the start again once one
// is accepted.
const (
	renewalBackoffMin = time.Second
	renewalBackoffMax = time.Minute
)

// renewal paces the renewals of one token source, under the lock of the
// tokens it paces: an API that answers every request 401 costs one new
// source per backoff, not one per request (each renewal makes a new
// source, see renewableTokens.renew), and the fetches stay one at a time.
// A source that cannot be made is tried again on the same backoff, its
// error the answer meanwhile.
type renewal struct {
	next    time.Time
	backoff time.Duration
	// rejecting is set from a renewal until a token is accepted, so that
	// an accepted request costs one atomic load.
	rejecting atomic.Bool

	// buildErr is why the last source could not be made, nil if it was;
	// no other is made before rebuild.
	buildErr     error
	rebuild      time.Time
	buildBackoff time.Duration
}

// allow reports whether a rejected token may be renewed at now, and if so
// counts the renewal.
func (b *renewal) allow(now time.Time) bool {
	if now.Before(b.next) {
		return false
	}
	if b.rejecting.Swap(true) { // no token accepted since the last renewal
		b.backoff = min(2*b.backoff, renewalBackoffMax)
	} else {
		b.backoff = renewalBackoffMin
	}
	b.next = now.Add(b.backoff)
	return true
}

// accepted records an answer that did not reject its token: the next
// rejection renews at once.
func (r *renewableTokens) accepted() {
	if !r.renewal.rejecting.Load() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.renewal.rejecting.Store(false)
	r.renewal.next = time.Time{}
}

// built records the making of a source at now: a failure delays the next
// attempt, by a backoff that doubles from renewalBackoffMin up to
// renewalBackoffMax while the attempts fail.
func (b *renewal) built(now time.Time, err error) {
	b.buildErr = err
	if err == nil {
		b.buildBackoff = 0
		return
	}
	b.buildBackoff = min(max(2*b.buildBackoff, renewalBackoffMin), renewalBackoffMax)
	b.rebuild = now.Add(b.buildBackoff)
}

// unbuilt returns, until the next attempt is due, the error that kept the
// last source from being made; nil when a source may be made at now.
func (b *renewal) unbuilt(now time.Time) error {
	if b.buildErr == nil || !now.Before(b.rebuild) {
		return nil
	}
	return b.buildErr
}
