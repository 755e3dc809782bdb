package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	bounds := Config{Concurrency: 1, MaxOutstanding: 1, VerifyTimeout: time.Minute}
	with := func(f func(*Config)) Config {
		c := bounds
		f(&c)
		return c
	}
	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" means valid
		want      string
	}{
		{"defaults", DefaultConfig(), "", ""},
		{"zero tunables take their defaults", bounds, "", ""},
		{"zero poll start under a set cap", with(func(c *Config) { c.PollMax = 5 * time.Second }), "", ""},
		{"zero concurrency", with(func(c *Config) { c.Concurrency = 0 }), "Concurrency", "Concurrency 0: must be at least 1"},
		{"zero max outstanding", with(func(c *Config) { c.MaxOutstanding = 0 }), "MaxOutstanding", "MaxOutstanding 0: must be at least 1"},
		{"zero verify timeout", with(func(c *Config) { c.VerifyTimeout = 0 }), "VerifyTimeout", "VerifyTimeout 0s: must be positive"},
		{"negative retry budget", with(func(c *Config) { c.RetryBudget = -time.Second }), "RetryBudget", "RetryBudget -1s: must not be negative"},
		{"negative shutdown timeout", with(func(c *Config) { c.ShutdownTimeout = -time.Second }), "ShutdownTimeout", "ShutdownTimeout -1s: must not be negative"},
		{"negative poll start", with(func(c *Config) { c.PollInitial = -time.Second }), "PollInitial", "PollInitial -1s: must not be negative"},
		{"poll start above the default cap", with(func(c *Config) { c.PollInitial = time.Minute }), "PollMax", "PollMax 30s: must not be below PollInitial (1m0s)"},
		{"negative backoff start", with(func(c *Config) { c.BackoffInitial = -time.Second }), "BackoffInitial", "BackoffInitial -1s: must not be negative"},
		{"backoff start above its cap", with(func(c *Config) { c.BackoffInitial, c.BackoffMax = 2*time.Second, time.Second }), "BackoffMax", "BackoffMax 1s: must not be below BackoffInitial (2s)"},
		{"negative publish timeout", with(func(c *Config) { c.PublishTimeout = -time.Second }), "PublishTimeout", "PublishTimeout -1s: must not be negative"},
		{"negative memory entries", with(func(c *Config) { c.MemoryEntries = -1 }), "MemoryEntries", "MemoryEntries -1: must not be negative"},
		{"negative memory age", with(func(c *Config) { c.MemoryAge = -time.Second }), "MemoryAge", "MemoryAge -1s: must not be negative"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		var ce *ConfigError
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%s: Validate = %v, want valid", tt.name, err)
		case tt.wantField == "":
		case !errors.As(err, &ce) || ce.Field != tt.wantField || !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s: Validate = %v, want a *ConfigError for %s with %q", tt.name, err, tt.wantField, tt.want)
		}
	}
}

// TestZeroTunablesTakeTheirDefaults: a worker configured with only its
// bounds polls on the default schedule (1 s, doubling, each ±20 %).
func TestZeroTunablesTakeTheirDefaults(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Concurrency: 4, MaxOutstanding: 4, VerifyTimeout: time.Minute}
		h := newHarness(t, cfg, lrotest.Options{}, "")
		h.fake.Set("operations/z", lrotest.Script{DoneAfterPolls: 2})
		start := time.Now()
		if got := h.w.Handle(context.Background(), h.delivery("m", "operations/z", nil)); got != Cancelled {
			t.Fatalf("outcome = %s, want cancelled", got)
		}
		at := requestTimes(h, "operations/z", "get", start)
		if len(at) != 3 {
			t.Fatalf("%d polls, want 3", len(at))
		}
		for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			gap := at[i]
			if i > 0 {
				gap -= at[i-1]
			}
			if lo, hi := want*8/10, want*12/10; gap < lo || gap > hi {
				t.Errorf("poll %d after %v, want within [%v, %v]", i+1, gap, lo, hi)
			}
		}
	})
}
