package worker

import (
	"fmt"
	"time"
)

// Config is the worker's configuration. Start from DefaultConfig; the
// internal tunables (backoff, poll schedule, publish timeout, memory) take
// their defaults when zero. Validate names the first bad field.
type Config struct {
	// Concurrency bounds the API requests in flight at once (the worker pool).
	Concurrency int
	// MaxOutstanding bounds the deliveries held at once, including those
	// waiting between verification polls, which hold no pool slot, all
	// sources together: each of n sources holds SourceWindow(n).
	MaxOutstanding int
	// VerifyTimeout is how long to poll for done after a cancel was accepted,
	// unless the service overrides it.
	VerifyTimeout time.Duration
	// RetryBudget is how long one delivery may spend retrying transient
	// failures, counted from its first request, before it is nacked.
	RetryBudget time.Duration
	// ShutdownTimeout is how long held jobs may keep going after shutdown
	// begins before they are nacked as interrupted.
	ShutdownTimeout time.Duration
	// BackoffInitial and BackoffMax shape the retry backoff: full jitter over
	// min(BackoffMax, BackoffInitial·2^attempt).
	BackoffInitial time.Duration
	BackoffMax     time.Duration
	// PollInitial and PollMax shape the verification schedule: PollInitial,
	// doubling, capped at PollMax, each ±20 % jitter.
	PollInitial time.Duration
	PollMax     time.Duration
	// PublishTimeout bounds the publication of one result event. The sink
	// keeps the bound (queue.PublishConfig.Timeout): only it can give up
	// on an event for good.
	PublishTimeout time.Duration
	// MemoryEntries and MemoryAge bound the memory of outcomes settled for
	// good (operations found done, messages acked), from which a repeat is
	// settled without a request: at most MemoryEntries, each used for
	// MemoryAge (docs/design.md#the-memory-of-outcomes).
	MemoryEntries int
	MemoryAge     time.Duration
}

// DefaultConfig returns the defaults the worker's flags document (see
// docs/contract.md#the-binary).
func DefaultConfig() Config {
	return Config{
		Concurrency:     64,
		MaxOutstanding:  10000,
		VerifyTimeout:   5 * time.Minute,
		RetryBudget:     2 * time.Minute,
		ShutdownTimeout: 25 * time.Second,
		BackoffInitial:  500 * time.Millisecond,
		BackoffMax:      30 * time.Second,
		PollInitial:     time.Second,
		PollMax:         30 * time.Second,
		PublishTimeout:  10 * time.Second,
		MemoryEntries:   200000,
		MemoryAge:       time.Hour,
	}
}

// SourceWindow is how many deliveries each of n sources (subscriptions)
// may hold: an equal part of MaxOutstanding, at least 1. It is also each
// subscription's flow-control limit.
func (c Config) SourceWindow(n int) int {
	return max(c.MaxOutstanding/max(n, 1), 1)
}

// withDefaults fills the zero internal tunables from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	fill := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.BackoffInitial, d.BackoffInitial)
	fill(&c.BackoffMax, d.BackoffMax)
	fill(&c.PollInitial, d.PollInitial)
	fill(&c.PollMax, d.PollMax)
	fill(&c.PublishTimeout, d.PublishTimeout)
	fill(&c.MemoryAge, d.MemoryAge)
	if c.MemoryEntries == 0 {
		c.MemoryEntries = d.MemoryEntries
	}
	return c
}

// Validate reports the first invalid field as a *ConfigError. Zero internal
// tunables take their defaults first, as New does, so a Config that leaves
// them zero is valid.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Concurrency < 1:
		return &ConfigError{"Concurrency", c.Concurrency, "must be at least 1"}
	case c.MaxOutstanding < 1:
		return &ConfigError{"MaxOutstanding", c.MaxOutstanding, "must be at least 1"}
	case c.VerifyTimeout <= 0:
		return &ConfigError{"VerifyTimeout", c.VerifyTimeout, "must be positive"}
	case c.RetryBudget < 0:
		return &ConfigError{"RetryBudget", c.RetryBudget, "must not be negative (0: no retries)"}
	case c.ShutdownTimeout < 0:
		return &ConfigError{"ShutdownTimeout", c.ShutdownTimeout, "must not be negative (0: nack at once)"}
	case c.BackoffInitial < 0:
		return &ConfigError{"BackoffInitial", c.BackoffInitial, "must not be negative (0: the default)"}
	case c.BackoffMax < c.BackoffInitial:
		return &ConfigError{"BackoffMax", c.BackoffMax, fmt.Sprintf("must not be below BackoffInitial (%s)", c.BackoffInitial)}
	case c.PollInitial < 0:
		return &ConfigError{"PollInitial", c.PollInitial, "must not be negative (0: the default)"}
	case c.PollMax < c.PollInitial:
		return &ConfigError{"PollMax", c.PollMax, fmt.Sprintf("must not be below PollInitial (%s)", c.PollInitial)}
	case c.PublishTimeout < 0:
		return &ConfigError{"PublishTimeout", c.PublishTimeout, "must not be negative (0: the default)"}
	case c.MemoryEntries < 0:
		return &ConfigError{"MemoryEntries", c.MemoryEntries, "must not be negative (0: the default)"}
	case c.MemoryAge < 0:
		return &ConfigError{"MemoryAge", c.MemoryAge, "must not be negative (0: the default)"}
	}
	return nil
}

// ConfigError is an invalid Config field. It names the field as Config
// does; a command that sets the field from a flag names the flag instead.
type ConfigError struct {
	// Field is the name of the Config field, such as "Concurrency".
	Field string
	// Value is the field's invalid value.
	Value any
	// Problem says what is wrong with it, such as "must be at least 1".
	Problem string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s %v: %s", e.Field, e.Value, e.Problem) }
