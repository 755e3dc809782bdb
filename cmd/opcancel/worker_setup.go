package main

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"go.uber.org/zap"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/worker"
)

// workerSetup is the worker's validated configuration.
type workerSetup struct {
	subscriptions []string
	resultsTopic  string
	cfg           worker.Config
	// receive are the receive settings of each subscription, in order.
	receive []queue.ReceiveConfig
	table   *lro.Table
	log     *zap.Logger
}

// setup validates the flags; every error is a usage error naming the bad value.
func (c *workerCmd) setup(e *env) (*workerSetup, error) {
	s := &workerSetup{}
	var err error
	if s.subscriptions, err = c.resolveSubscriptions(e); err != nil {
		return nil, err
	}
	if c.ResultsTopic != "" {
		if s.resultsTopic, err = c.resolve(e, "topics", "--results-topic", c.ResultsTopic); err != nil {
			return nil, err
		}
	}
	s.cfg = worker.DefaultConfig()
	s.cfg.Concurrency = c.Concurrency
	s.cfg.MaxOutstanding = c.MaxOutstanding
	s.cfg.VerifyTimeout = c.VerifyTimeout
	s.cfg.RetryBudget = c.RetryBudget
	s.cfg.ShutdownTimeout = c.ShutdownTimeout
	if err := s.cfg.Validate(); err != nil {
		return nil, workerConfigError(err)
	}
	if err := queue.CheckLeaseExtension(c.LeaseExtension); err != nil {
		return nil, workerConfigError(err)
	}
	if n := len(s.subscriptions); s.cfg.MaxOutstanding < n {
		return nil, usagef("--max-outstanding %d: must be at least the number of subscriptions (%d): each holds an equal part", s.cfg.MaxOutstanding, n)
	}
	for _, sub := range s.subscriptions {
		r := queue.ReceiveConfig{Subscription: sub, MaxOutstanding: s.cfg.SourceWindow(len(s.subscriptions)), LeaseExtension: c.LeaseExtension}
		if err := r.Validate(); err != nil {
			return nil, workerConfigError(err)
		}
		s.receive = append(s.receive, r)
	}
	if c.RequestTimeout <= 0 {
		return nil, usagef("--request-timeout %s: must be positive", c.RequestTimeout)
	}
	// Port 0 picks a free port each time: two such addresses never clash.
	if c.DebugListen != "" && c.DebugListen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		return nil, usagef("--debug-listen %s: must differ from --listen: the admin port never serves profiles", c.DebugListen)
	}
	if err := checkDebugListen(c.DebugListen, c.DebugNetwork); err != nil {
		return nil, err
	}
	if s.table, err = loadServicesFile(c.Config, c.Auth); err != nil {
		return nil, err
	}
	if s.log, err = newLogger(c.LogLevel, e.stderr); err != nil {
		return nil, err
	}
	return s, nil
}

// checkDebugListen is the usage error of a --debug-listen that is not a
// loopback IP (an empty host is every interface; a name, localhost
// included, is resolved through /etc/hosts or DNS, which may not say
// loopback), unless nonLoopback (--debug-listen-non-loopback) allows it.
func checkDebugListen(addr string, nonLoopback bool) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--debug-listen %s: %v", addr, err)
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case nonLoopback || err == nil && ip.IsLoopback():
		return nil
	case err != nil && host != "":
		return usagef("--debug-listen %s: %q is a name, which /etc/hosts or DNS may resolve to an address other than loopback: write the address, 127.0.0.1:PORT or [::1]:PORT, or add --debug-listen-non-loopback", addr, host)
	}
	return usagef("--debug-listen %s: not a loopback address: profiles show the program's stacks and memory to whoever reaches them; listen on 127.0.0.1:PORT and use kubectl port-forward, or add --debug-listen-non-loopback", addr)
}

// workerConfigFlags are the flags that set the fields of worker.Config and
// queue.ReceiveConfig.
var workerConfigFlags = map[string]string{
	"Concurrency":     "--concurrency",
	"MaxOutstanding":  "--max-outstanding",
	"VerifyTimeout":   "--verify-timeout",
	"RetryBudget":     "--retry-budget",
	"ShutdownTimeout": "--shutdown-timeout",
	"LeaseExtension":  "--lease-extension",
}

// workerConfigError is the usage error for an invalid worker.Config or
// queue.ReceiveConfig: it names the flag that set the bad field.
func workerConfigError(err error) error {
	var ce *worker.ConfigError
	if errors.As(err, &ce) {
		if flag, ok := workerConfigFlags[ce.Field]; ok {
			return usagef("%s %v: %s", flag, ce.Value, ce.Problem)
		}
	}
	return usageError{err}
}
