package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/worker"
)

// flagDefaults are the defaults of the flags that set a package's setting,
// taken from the package that owns the setting, so that each default lives
// in one place. Flags refer to them as default:"${name}".
func flagDefaults() kong.Vars {
	d := worker.DefaultConfig()
	return kong.Vars{
		"auth":             lro.AuthADC,
		"concurrency":      strconv.Itoa(d.Concurrency),
		"max_outstanding":  strconv.Itoa(d.MaxOutstanding),
		"lease_extension":  shortDuration(queue.DefaultLeaseExtension),
		"verify_timeout":   shortDuration(d.VerifyTimeout),
		"retry_budget":     shortDuration(d.RetryBudget),
		"shutdown_timeout": shortDuration(d.ShutdownTimeout),
		"request_timeout":  shortDuration(lro.DefaultRequestTimeout),
	}
}

// shortDuration formats d as a person writes it: "5m" rather than "5m0s".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
