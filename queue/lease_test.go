package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"opcancel/queue"
	"opcancel/worker"
)

// TestEveryLeaseIsTheLeaseExtension: every lease the client asks for, on
// receipt and on each renewal, is the configured extension, on an
// exactly-once subscription too. The client library would otherwise raise
// each lease there to at least 60 s, and a message held by a worker that
// died would stay away that long (docs/design.md#leases).
func TestEveryLeaseIsTheLeaseExtension(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		exactlyOnce bool
		lease       time.Duration
	}{
		{"default", false, 0},
		{"20s", false, 20 * time.Second},
		{"exactly once, default", true, 0},
		{"exactly once, 20s", true, 20 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newOnPstest(t, tt.exactlyOnce)
			srv := p.srv
			id := srv.Publish(p.topic, []byte("operations/x"), nil)
			s := p.client.Subscriber(queue.ReceiveConfig{Subscription: p.sub, MaxOutstanding: 10, LeaseExtension: tt.lease})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := s.Receive(ctx, func(_ context.Context, d worker.Delivery) {
				// Hold the message until the client has asked for its
				// lease on receipt (at once on an exactly-once
				// subscription, within 100 ms on others).
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for len(srv.Message(id).Modacks) == 0 {
					<-tick.C
				}
				if err := d.Ack(); err != nil {
					t.Errorf("ack: %v", err)
				}
				cancel()
			})
			if err != nil {
				t.Fatalf("Receive = %v", err)
			}
			want := tt.lease
			if want == 0 {
				want = queue.DefaultLeaseExtension
			}
			m := srv.Message(id)
			if len(m.Modacks) == 0 {
				t.Fatal("no lease asked for on receipt")
			}
			for _, ma := range m.Modacks {
				if got := time.Duration(ma.AckDeadline) * time.Second; got != want {
					t.Errorf("a lease of %v asked for, want %v", got, want)
				}
			}
		})
	}
}

// TestLeaseExtensionLimits: Pub/Sub takes whole seconds from 10 s to 600 s;
// anything else is refused, naming the setting.
func TestLeaseExtensionLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		lease time.Duration
		ok    bool
	}{
		{0, true},
		{10 * time.Second, true},
		{600 * time.Second, true},
		{9 * time.Second, false},
		{601 * time.Second, false},
		{10500 * time.Millisecond, false},
		{-time.Second, false},
	} {
		err := queue.ReceiveConfig{LeaseExtension: tt.lease}.Validate()
		var ce *worker.ConfigError
		switch {
		case tt.ok && err != nil:
			t.Errorf("LeaseExtension %v: %v, want valid", tt.lease, err)
		case !tt.ok && (!errors.As(err, &ce) || ce.Field != "LeaseExtension"):
			t.Errorf("LeaseExtension %v: %v, want an error naming LeaseExtension", tt.lease, err)
		}
	}
}
