package lro

import (
	"errors"
	"strconv"
)

// Code is a google.rpc.Code, the canonical error code of Google APIs.
type Code int

// The google.rpc codes (google/rpc/code.proto).
const (
	OK                 Code = 0
	Cancelled          Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16

	// Transport is not a google.rpc code: it marks a request that received no
	// HTTP answer at all (connection refused or reset, request timeout).
	Transport Code = -1
)

var codeNames = [...]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// allCodes lists the seventeen google.rpc codes in numeric order.
func allCodes() []Code {
	codes := make([]Code, len(codeNames))
	for i := range codes {
		codes[i] = Code(i)
	}
	return codes
}

// String returns the code's canonical upper-snake name ("UNAVAILABLE"), or
// "TRANSPORT" for Transport. These are the values of the metrics' code label.
func (c Code) String() string {
	if c == Transport {
		return "TRANSPORT"
	}
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE_" + strconv.Itoa(int(c))
}

// parseCode returns the code named by a google.rpc status string such as
// "UNAVAILABLE". It reports false for names it does not know.
func parseCode(name string) (Code, bool) {
	for i, n := range codeNames {
		if n == name {
			return Code(i), true
		}
	}
	return 0, false
}

// codeFromHTTP maps an HTTP status to a google.rpc code, as
// docs/contract.md#api-answers lists them. It is only used when an answer
// carries no Google error body: the Google front end's own pages, and
// answers that are not Google's at all. Those are misdirected whatever
// code they map to here, and Classify treats them as transient (see
// Misdirected); the code still tells the throttle that a 429 asks to slow
// down and a 503 is an overload. Every 5xx maps to a transient code,
// including 501, which from a front end says nothing about the API itself.
func codeFromHTTP(status int) Code {
	switch {
	case status >= 200 && status < 300:
		return OK
	case status == 400:
		return InvalidArgument
	case status == 401:
		return Unauthenticated
	case status == 403:
		return PermissionDenied
	case status == 404:
		return NotFound
	case status == 405:
		return Unimplemented
	case status == 408:
		return DeadlineExceeded
	case status == 409:
		return Aborted
	case status == 412:
		return FailedPrecondition
	case status == 416:
		return OutOfRange
	case status == 429:
		return ResourceExhausted
	case status == 499:
		return Cancelled
	case status >= 400 && status < 500:
		return InvalidArgument
	case status == 500:
		return Internal
	case status == 502, status == 503:
		return Unavailable
	case status == 504:
		return DeadlineExceeded
	default:
		// 1xx, 3xx (redirects are never followed) and the remaining 5xx.
		return Unknown
	}
}

// Class is what a failed request means for sending it again.
type Class int

const (
	// Permanent failures would get the same answer if the request were sent
	// again.
	Permanent Class = iota
	// Transient failures may get another answer when the request is sent
	// again: unavailability, quota, timeouts, connection errors and
	// credential failures.
	Transient
)

func (c Class) String() string {
	if c == Transient {
		return "transient"
	}
	return "permanent"
}

// Classify decides whether err is transient or permanent, exactly as
// docs/contract.md#outcomes says. It is the only place that decides it.
//
// Transient: any answer that is not recognisably Google's, whatever its
// status (Misdirected: it says nothing about the operation); of Google's
// answers UNAVAILABLE, RESOURCE_EXHAUSTED (a quota reason in a 403
// included), DEADLINE_EXCEEDED, ABORTED, INTERNAL, UNKNOWN,
// UNAUTHENTICATED (a credentials outage says nothing about the operation),
// CANCELLED (HTTP 499: the request was aborted, not the cancel refused);
// transport failures (no answer), and any other error that is not an
// *Error, since nothing proves it would recur. Permanent: every other
// google.rpc code in Google's answers, and validation failures
// (ErrInvalid), which no retry can fix.
func Classify(err error) Class {
	var e *Error
	if !errors.As(err, &e) {
		if errors.Is(err, ErrInvalid) {
			return Permanent
		}
		return Transient
	}
	if e.NotGoogle {
		return Transient
	}
	switch e.Code {
	case Unavailable, ResourceExhausted, DeadlineExceeded, Aborted, Internal,
		Unknown, Unauthenticated, Cancelled, Transport:
		return Transient
	default:
		return Permanent
	}
}

// CodeOf returns the google.rpc code of err, Transport for failures that got
// no answer, and Unknown for errors that are not from this package.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Unknown
}
