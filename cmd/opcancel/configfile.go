package main

import (
	"errors"
	"strings"

	"opcancel/lro"
)

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
