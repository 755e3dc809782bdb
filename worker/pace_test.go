package worker

import (
	"slices"
	"testing"
	"time"
)

// TestPaceCountsASendWhenItLeaves: a send that leaves the process later
// than the pacer logged it (a goroutine handoff, a new connection) holds
// the sends a second later back from when it left, so that the API never
// sees more than the rate in one second.
func TestPaceCountsASendWhenItLeaves(t *testing.T) {
	t.Parallel()
	const rate = 10
	var p pacer
	start := time.Unix(1000, 0)
	now := start
	ids := make([]uint64, 0, rate)
	for range rate {
		now = now.Add(p.wait(now, rate))
		ids = append(ids, p.sent(now, rate))
	}
	// The first send left 40 ms after it was logged.
	p.wired(ids[0], start.Add(40*time.Millisecond))
	if got, want := now.Add(p.wait(now, rate)), start.Add(40*time.Millisecond+time.Second+windowSlack); !got.Equal(want) {
		t.Errorf("the 11th send may leave %v after the first was logged, want %v: a second after it left, and the slack", got.Sub(start), want.Sub(start))
	}
	// A send wired no later than it was logged changes nothing; one that
	// left after the next send moves behind it in the log.
	p.wired(ids[1], start)
	p.wired(ids[0], start.Add(150*time.Millisecond))
	var order []uint64
	for _, s := range p.window {
		order = append(order, s.id)
	}
	if want := append([]uint64{ids[1], ids[0]}, ids[2:]...); !slices.Equal(order, want) {
		t.Errorf("the log's order is %v, want %v: by the times the sends left", order, want)
	}
}

// TestPaceKeepsTheRateWhenSendsComeLate: each send comes a little late for
// its slot (goroutines waking late on a busy machine); the rate holds
// rather than falling by the lateness of each.
func TestPaceKeepsTheRateWhenSendsComeLate(t *testing.T) {
	t.Parallel()
	const rate = 200
	var p pacer
	start := time.Unix(1000, 0)
	now := start
	var times []time.Time
	for range 2000 {
		now = now.Add(p.wait(now, rate)).Add(time.Millisecond) // a millisecond late, every time
		p.sent(now, rate)
		times = append(times, now)
	}
	if got := float64(len(times)-1) / times[len(times)-1].Sub(start).Seconds(); got < 0.97*rate {
		t.Errorf("%.1f sends/s with each a millisecond late, want close to the rate %d", got, rate)
	}
	if n, _ := busiestSecond(times); n > rate {
		t.Errorf("%d sends in one second, want at most %d", n, rate)
	}
}
