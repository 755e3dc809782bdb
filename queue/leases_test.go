package queue

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// extensions records the extensions a Leases sends, and fails those it is
// told to.
type extensions struct {
	mu   sync.Mutex
	sent [][]string
	fail int // how many of the next extensions fail
}

func (x *extensions) extend(_ context.Context, ids []string, d time.Duration) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if d != DefaultLeaseExtension {
		return errors.New("wrong deadline")
	}
	ids = slices.Sorted(slices.Values(ids))
	x.sent = append(x.sent, ids)
	if x.fail > 0 {
		x.fail--
		return errors.New("unavailable")
	}
	return nil
}

// failNext makes the next n extensions fail.
func (x *extensions) failNext(n int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.fail = n
}

func (x *extensions) take() [][]string {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.sent
	x.sent = nil
	return s
}

// TestLeasesAreRenewedUntilReleased: a held message's lease is extended at
// once and every third of the deadline after, until it is released; one
// failed renewal is tried again, a second in a row ends Run with an error.
func TestLeasesAreRenewedUntilReleased(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		x := &extensions{}
		l := newLeases("projects/p/subscriptions/s", DefaultLeaseExtension, x.extend)
		ctx := context.Background()
		if err := l.Hold(ctx, []string{"a", "b"}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([][]string{{"a", "b"}}, x.take()); diff != "" {
			t.Errorf("at Hold (-want +got):\n%s", diff)
		}
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		step := DefaultLeaseExtension / 3

		time.Sleep(step - time.Second)
		synctest.Wait()
		if got := x.take(); len(got) != 0 {
			t.Errorf("before a third of the deadline: %v", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if diff := cmp.Diff([][]string{{"a", "b"}}, x.take()); diff != "" {
			t.Errorf("after a third (-want +got):\n%s", diff)
		}

		l.Hold(ctx, []string{"c"})
		l.Release([]string{"a"})
		x.take()
		time.Sleep(step)
		synctest.Wait()
		if diff := cmp.Diff([][]string{{"b", "c"}}, x.take()); diff != "" {
			t.Errorf("after a release (-want +got):\n%s", diff)
		}

		x.failNext(1)
		time.Sleep(2 * step)
		synctest.Wait()
		if got := len(x.take()); got != 2 {
			t.Errorf("%d renewals around one failure, want 2", got)
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended after one failure: %v", err)
		default:
		}

		x.failNext(2)
		time.Sleep(2 * step)
		synctest.Wait()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Run = nil after two failures in a row, want an error")
			}
		default:
			t.Fatalf("Run goes on after two failures in a row")
		}
	})
}

// TestLeasesRunEndsWithItsContext: Run returns nil when its context ends,
// and sends nothing once nothing is held.
func TestLeasesRunEndsWithItsContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		x := &extensions{}
		l := newLeases("projects/p/subscriptions/s", DefaultLeaseExtension, x.extend)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx) }()
		time.Sleep(DefaultLeaseExtension)
		synctest.Wait()
		if got := x.take(); len(got) != 0 {
			t.Errorf("extensions with nothing held: %v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}
