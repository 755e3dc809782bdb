package queue

import (
	"testing"
	"time"
)

// TestNotHealthyOnceReceiveReturned: the client library may end its stream
// after Receive has returned, so the monitor can still hold an answered
// stream for the subscription; the subscriber is healthy only while it is
// being received.
func TestNotHealthyOnceReceiveReturned(t *testing.T) {
	t.Parallel()
	const sub = "projects/p/subscriptions/worker"
	mon := newStreamMonitor()
	mon.streams[&streamTag{sub: sub, answered: true}] = time.Now() // its End not heard yet
	s := &Subscriber{client: &Client{monitor: mon}, name: sub}
	if s.Healthy() {
		t.Error("healthy with no Receive running, on a stream that has not reported its end")
	}
	s.receiving.Add(1)
	if !s.Healthy() {
		t.Error("not healthy while receiving on an answered stream")
	}
}
