package lro

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is the one error type for answers from an operations API, and for
// requests that got no answer at all. Inspect it with errors.As.
type Error struct {
	// HTTPStatus is the HTTP status of the answer, 0 when there was none.
	HTTPStatus int
	// Code is the google.rpc code: from the error body's status when it has a
	// known one, otherwise derived from the HTTP status; Transport when no
	// answer arrived; Unauthenticated when no token could be obtained.
	Code Code
	// Message is the error body's message, or a description of the failure.
	Message string
	// RetryDelay is the server's hint of how long to wait before retrying:
	// google.rpc.RetryInfo when present, else the Retry-After header; 0 if none.
	RetryDelay time.Duration
	// Reason and Domain come from a google.rpc.ErrorInfo detail, else from
	// the legacy errors[0] of the older APIs; empty if neither is there.
	Reason string
	Domain string
	// NotGoogle marks an answer that is not recognisably from a Google API,
	// whatever its status: an error whose body is neither a Google JSON
	// error nor the Google front end's own error page, or a 2xx whose body
	// is not JSON. A service mesh, a proxy, a gateway, an ingress or a wrong
	// endpoint answers so (see Misdirected).
	NotGoogle bool
	// Timeout marks a request that got no answer within the request
	// timeout (Code Transport).
	Timeout bool
	// Err is the underlying cause of a transport or credential failure.
	Err error
}

// Error describes the failure without any request or response payload:
// code, HTTP status, message and reason.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code.String())
	switch {
	case e.NotGoogle:
		fmt.Fprintf(&b, " (HTTP %d, not recognisably Google's)", e.HTTPStatus)
	case e.HTTPStatus != 0:
		fmt.Fprintf(&b, " (HTTP %d)", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && e.Message == "" {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (reason %s)", e.Reason)
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// TimedOut reports whether err is a request that got no answer within the
// request timeout: for the worker, a sign of an overloaded API like
// UNAVAILABLE (see docs/design.md#pacing-and-throttling).
func TimedOut(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == Transport && e.Timeout
}

// FromGoogle reports whether err, nil for a successful answer, is an
// answer recognisably Google's: a success, or an error answer that is not
// Misdirected. A request that got no answer, or one damaged on its way
// (Code Transport), or no token (Unauthenticated without an answer), is
// not.
func FromGoogle(err error) bool {
	if err == nil {
		return true
	}
	var e *Error
	return errors.As(err, &e) && e.HTTPStatus != 0 && !e.NotGoogle
}

// MaxMessageBytes bounds the message of an Error and of an operation's
// error: an error body can be as large as MaxBodyBytes, and what is kept of
// it is held while a job waits, and ends up in log lines and events.
const MaxMessageBytes = 2048

// Clip returns s when it has at most limit bytes. A longer s is cut to its
// longest prefix of at most limit bytes that ends at a character boundary,
// followed by a mark that says so and how long s was:
// "…[cut: 1048576 bytes in all]".
func Clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := max(limit, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[cut: " + strconv.Itoa(len(s)) + " bytes in all]"
}

// Misdirected reports whether err is an answer that is not recognisably
// Google's (Error.NotGoogle), whatever its status: a 403 "RBAC: access
// denied" of a service mesh, a proxy's block page or its 400, 413 or 431,
// an ingress's 404, a 2xx page instead of JSON. The request most likely
// never reached the API: the service's endpoint or version is wrong, or a
// proxy or gateway answered. Such an answer says nothing about the
// operation or the method, so it is transient, never an outcome to act on
// (see docs/contract.md#api-answers).
func Misdirected(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotGoogle
}
