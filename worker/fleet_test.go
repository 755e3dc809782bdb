package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/metrics"
)

// TestAFleetConvergesOnTheQuota: three replicas share one queue of jobs,
// each configured with the API's quota as its rate (what a user reading the
// quota page writes), against an API that admits 100 requests/s in all and
// answers 429 with RetryInfo beyond. Each replica alone sends a third of
// that, too few answers for a two-second window of a hundred; their
// throttles still judge the overload and together settle on the quota:
// few 429s, the quota used, every job cancelled.
func TestAFleetConvergesOnTheQuota(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const (
			replicas = 3
			quota    = 100
			n        = 8000
		)
		fake := lrotest.New(lrotest.Options{Quota: quota, QuotaRetryDelay: time.Second, DontRecord: true, Latency: 20 * time.Millisecond,
			Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
		yaml := lrotest.ServicesYAML(fakeEndpoints, map[string]string{vault: fmt.Sprintf("rate: %d", quota)})
		queue := make(chan int)
		go func() {
			defer close(queue)
			for i := range n {
				queue <- i
			}
		}()
		var cancelled float64
		var mu sync.Mutex
		var fleet sync.WaitGroup
		for range replicas {
			table, err := lro.ParseTable("t.yaml", []byte(yaml), lro.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m := metrics.New(prometheus.NewRegistry())
			client, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone, Transport: fake.Transport(), Observer: RequestObserver(m)})
			if err != nil {
				t.Fatal(err)
			}
			w, err := New(DefaultConfig(), Deps{Table: table, Ops: client, Log: zap.NewNop(), Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(w.Close)
			fleet.Go(func() {
				receive(queue, w, DefaultConfig().MaxOutstanding)
				mu.Lock()
				cancelled += testutil.ToFloat64(m.Jobs.WithLabelValues(vault, string(Cancelled)))
				mu.Unlock()
			})
		}
		accepted := sampleAccepted(fake, fleet.Wait)
		st := fake.Stats()
		share := float64(st.Throttled) / float64(st.Cancels+st.Gets)
		goodput := accepted.steady()
		t.Logf("%d requests, %.1f %% answered 429, steady goodput %.1f/s", st.Cancels+st.Gets, 100*share, goodput)
		if cancelled != n {
			t.Errorf("cancelled = %v, want all %d", cancelled, n)
		}
		if share > 0.05 {
			t.Errorf("%.1f %% of requests answered 429, want at most 5 %%", 100*share)
		}
		// The benchmark holds the fleet to its targets (cmd/opcancel-bench,
		// fleet); this asserts that the quota is used and not overrun.
		if goodput < 0.85*quota {
			t.Errorf("steady goodput %.1f/s, want at least 85 %% of the %d/s quota", goodput, quota)
		}
	})
}

// receive hands jobs from queue to w, holding at most window at once, as
// one replica's Pub/Sub flow control does, until queue is closed and every
// job has ended.
func receive(queue <-chan int, w *Worker, window int) {
	held := make(chan struct{}, window)
	var wg sync.WaitGroup
	for i := range queue {
		held <- struct{}{}
		wg.Go(func() {
			defer func() { <-held }()
			w.Handle(context.Background(), Delivery{ID: fmt.Sprint(i), Data: fmt.Appendf(nil, "operations/o%d", i)})
		})
	}
	wg.Wait()
}

// acceptedSamples are the fake API's accepted requests, counted every second.
type acceptedSamples []struct {
	at       time.Time
	accepted int
}

// sampleAccepted samples fake's accepted requests every second until wait
// returns.
func sampleAccepted(fake *lrotest.Server, wait func()) acceptedSamples {
	var s acceptedSamples
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			st := fake.Stats()
			s = append(s, struct {
				at       time.Time
				accepted int
			}{time.Now(), st.Cancels + st.Gets - st.Throttled})
			select {
			case <-done:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	wait()
	close(done)
	<-sampled
	return s
}

// steady is the accepted rate between 10 % and 90 % of the accepted
// requests: the ramp and the tail are left out.
func (s acceptedSamples) steady() float64 {
	total := s[len(s)-1].accepted
	lo, hi := -1, -1
	for i, x := range s {
		if lo < 0 && x.accepted >= total/10 {
			lo = i
		}
		if hi < 0 && x.accepted >= total*9/10 {
			hi = i
		}
	}
	return float64(s[hi].accepted-s[lo].accepted) / s[hi].at.Sub(s[lo].at).Seconds()
}
