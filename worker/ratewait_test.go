package worker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"opcancel/lro/lrotest"
)

// TestAFloodOverManyLocationsHoldsOneSlot: an API at `rate: 2` flooded in
// every one of its 50 locations (each its own endpoint) holds one slot of
// the pool while it waits for its rate, not one per location, so another
// API's jobs have the rest of the pool at once. Without the rule the flood
// held 50 of the 64 slots and the other API at most 14.
func TestAFloodOverManyLocationsHoldsOneSlot(t *testing.T) {
	t.Parallel()
	const (
		api       = "aiplatform.googleapis.com"
		locations = 50
		latency   = 50 * time.Millisecond
	)
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		var regional []string
		for i := range locations {
			regional = append(regional, fmt.Sprintf("us-r%d: \"https://r%d.fake\"", i, i))
		}
		yaml := fmt.Sprintf("services:\n  - host: %s\n    endpoint: https://global.fake\n    regionalEndpoints: {%s}\n    rate: 2\n  - host: %s\n    endpoint: https://%s\n",
			api, strings.Join(regional, ", "), amapi, amapiAt)
		h := newHarness(t, cfg, lrotest.Options{
			Latency: latency,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} },
		}, yaml)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var flood sync.WaitGroup
		for r := range locations {
			for i := range 4 {
				flood.Go(func() {
					name := fmt.Sprintf("//%s/projects/p/locations/us-r%d/operations/o%d", api, r, i)
					h.w.Handle(ctx, h.delivery(fmt.Sprintf("f%d-%d", r, i), name, nil))
				})
			}
		}
		// The flood's first requests are answered; the rest wait for the rate.
		time.Sleep(2 * latency)
		synctest.Wait()
		held := 0
		for r := range locations {
			held += int(testutil.ToFloat64(h.m.ServiceRequestsInFlight.WithLabelValues(api, fmt.Sprintf("r%d.fake", r))))
		}
		if held > 1 {
			t.Errorf("the rate-limited flood holds %d slots of %d while it waits for its rate, want at most 1", held, cfg.Concurrency)
		}
		var other sync.WaitGroup
		for i := range 200 {
			other.Go(func() {
				h.w.Handle(context.Background(), h.delivery(fmt.Sprintf("a%d", i), fmt.Sprintf("%so%d", dev, i), nil))
			})
		}
		other.Wait()
		if peak, want := h.ops.peakOf(amapi), cfg.Concurrency-1; peak < want {
			t.Errorf("the other API had at most %d requests in flight beside the flood, want %d (the pool less the flood's one)", peak, want)
		}
		cancel()
		flood.Wait()
	})
}
