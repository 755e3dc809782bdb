package main

import (
	"errors"
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

// loadServicesFile loads the services file of --config (none: the built-in
// services). An endpoint must be https when the command sends credentials
// (--auth=adc); the commands that send none (demo, services) pass "".
func loadServicesFile(path, auth string) (*lro.Table, error) {
	table, err := lro.LoadTable(path, lro.FileOptions{SendsTokens: auth == lro.AuthADC})
	if err != nil {
		return nil, servicesFileError(err)
	}
	return table, nil
}

// servicesFileError is the usage error for a --config that does not load:
// an endpoint refused for want of https names --auth, and a host that is
// not in the catalog the command that lists it.
func servicesFileError(err error) error {
	var ph *lro.PlainHTTPError
	var fh *lro.ForeignHostError
	var explained interface {
		error
		Explain(adc, none string) string
	}
	switch {
	case errors.As(err, &ph):
		explained = ph
	case errors.As(err, &fh):
		explained = fh
	}
	if explained != nil {
		inFlags := explained.Explain("--auth="+lro.AuthADC, "--auth="+lro.AuthNone)
		return usagef("--config: %s", strings.Replace(err.Error(), explained.Error(), inFlags, 1))
	}
	if errors.Is(err, lro.ErrNotInCatalog) {
		return usagef("--config: %w (opcancel services --all lists the catalog)", err)
	}
	return usagef("--config: %w", err)
}
