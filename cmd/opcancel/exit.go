package main

import (
	"errors"
	"fmt"
	"strings"
)

// usageError is a usage or configuration error: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef is a usage error formatted as fmt.Errorf does.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError is an error with an exit status of its own: `submit --wait`'s
// 3 and 4 (see docs/contract.md#exit-status).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// exitCode maps run's error to the exit status: 0 on a clean stop, 2 on a
// usage or configuration error, an exitError's own, 1 on anything else.
func exitCode(err error) int {
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &ee):
		return ee.code
	default:
		return 1
	}
}

// oneLine is err's message on one line, as main prints it: escaped, since
// it can carry an API's or a message's text.
func oneLine(err error) string {
	return escape(strings.ReplaceAll(err.Error(), "\n", " "))
}
