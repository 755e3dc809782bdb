package lro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	// NotGoogle marks an answer that is not recognisably from a Google API:
	// its body is neither a Google JSON error nor the Google front end's own
	// 404 page. A proxy, an ingress, or a wrong endpoint answers so.
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
	if e.HTTPStatus != 0 {
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

// maxRetryDelay caps any retry hint a server gives: a hint is honoured (never
// retried sooner) but an absurd one (days, overflow) is not obeyed literally.
const maxRetryDelay = 10 * time.Minute

// googleError is the JSON error body of Google REST APIs (AIP-193), with
// the legacy errors[] of the older (Workspace) APIs.
type googleError struct {
	Error *struct {
		Code    int               `json:"code"`
		Message string            `json:"message"`
		Status  string            `json:"status"`
		Details []json.RawMessage `json:"details"`
		Errors  []struct {
			Reason string `json:"reason"`
			Domain string `json:"domain"`
		} `json:"errors"`
	} `json:"error"`
}

// errorDetail holds the fields of the detail types opcancel reads; other
// detail types are tolerated and ignored.
type errorDetail struct {
	Type       string `json:"@type"`
	RetryDelay string `json:"retryDelay"` // google.rpc.RetryInfo
	Reason     string `json:"reason"`     // google.rpc.ErrorInfo
	Domain     string `json:"domain"`     // google.rpc.ErrorInfo
}

const (
	typeRetryInfo = "type.googleapis.com/google.rpc.RetryInfo"
	typeErrorInfo = "type.googleapis.com/google.rpc.ErrorInfo"
)

// quotaReasons are the reasons with which the older Google APIs (Workspace:
// Vault, Admin SDK, Drive) answer a quota error as a 403: a quota, not a
// permission.
var quotaReasons = map[string]bool{"rateLimitExceeded": true, "userRateLimitExceeded": true}

// parseError turns a non-2xx answer into an *Error. The code comes from the
// body's error.status when the body is a Google error with a known status;
// otherwise from the HTTP status. A 403 whose reason says a rate limit was
// exceeded is RESOURCE_EXHAUSTED. The retry delay comes from a RetryInfo
// detail if there is one, else from the Retry-After header (seconds or an HTTP
// date, relative to now). body should already be capped by the caller.
func parseError(status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{HTTPStatus: status, Code: codeFromHTTP(status)}
	var ge googleError
	switch {
	case json.Unmarshal(body, &ge) == nil && ge.Error != nil:
		e.readGoogleBody(&ge)
	case status == http.StatusNotFound && isFrontEnd404(body):
		e.Code = Unimplemented
		e.Message = "the Google front end serves no such method (its HTML 404 page)"
	default:
		e.Message = http.StatusText(status)
		e.NotGoogle = true
	}
	if e.RetryDelay == 0 {
		if d, ok := parseRetryAfter(header.Get("Retry-After"), now); ok {
			e.RetryDelay = d
		}
	}
	e.RetryDelay = min(e.RetryDelay, maxRetryDelay)
	return e
}

// readGoogleBody takes the message, code, retry delay and reason of a Google
// error body.
func (e *Error) readGoogleBody(ge *googleError) {
	e.Message = Clip(ge.Error.Message, MaxMessageBytes)
	// Without a known status string, the body's own HTTP code is the next
	// best source, then the answer's.
	httpCode := e.HTTPStatus
	if ge.Error.Code >= 100 && ge.Error.Code < 600 {
		httpCode = ge.Error.Code
	}
	switch c, ok := parseCode(ge.Error.Status); {
	case ok:
		e.Code = c
	case httpCode == http.StatusNotImplemented:
		// From a Google API, unlike from a proxy, 501 is UNIMPLEMENTED.
		e.Code = Unimplemented
	default:
		e.Code = codeFromHTTP(httpCode)
	}
	for _, raw := range ge.Error.Details {
		var d errorDetail
		if json.Unmarshal(raw, &d) != nil {
			continue
		}
		switch d.Type {
		case typeRetryInfo:
			if delay, ok := parseProtoDuration(d.RetryDelay); ok && e.RetryDelay == 0 {
				e.RetryDelay = delay
			}
		case typeErrorInfo:
			if e.Reason == "" {
				e.Reason, e.Domain = d.Reason, d.Domain
			}
		}
	}
	if e.Reason == "" && len(ge.Error.Errors) > 0 {
		e.Reason, e.Domain = ge.Error.Errors[0].Reason, ge.Error.Errors[0].Domain
	}
	e.Reason, e.Domain = Clip(e.Reason, maxReasonBytes), Clip(e.Domain, maxReasonBytes)
	if e.Code == PermissionDenied && quotaReasons[e.Reason] {
		e.Code = ResourceExhausted
	}
}

// maxReasonBytes bounds an ErrorInfo reason and domain, which are short
// identifiers in every Google API.
const maxReasonBytes = 128

// isFrontEnd404 reports whether body is the Google front end's own HTML
// 404 page, which it serves for a path that no API behind it serves:
// "<b>404.</b> That’s an error." (see lro/lrotest's HTML404).
func isFrontEnd404(body []byte) bool {
	return bytes.Contains(body, []byte("<b>404.</b>")) &&
		(bytes.Contains(body, []byte("That’s an error.")) || bytes.Contains(body, []byte("That's an error.")))
}

// Misdirected reports whether err is a 404 or 405 answer that is not
// recognisably Google's (Error.NotGoogle): the request most likely never
// reached the API, because the service's endpoint or version is wrong or a
// proxy or ingress answered. Such an answer says nothing about the
// operation or the method, so it is transient, never UNIMPLEMENTED or
// NOT_FOUND to act on (see docs/operations.md#api-answers).
func Misdirected(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.misdirected()
}

func (e *Error) misdirected() bool {
	return e.NotGoogle && (e.HTTPStatus == http.StatusNotFound || e.HTTPStatus == http.StatusMethodNotAllowed)
}

// parseProtoDuration parses the JSON form of google.protobuf.Duration
// ("1.5s", "30s"). Negative or malformed values report false.
func parseProtoDuration(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(num, 64)
	if err != nil || secs <= 0 || secs != secs {
		return 0, false
	}
	if secs >= maxRetryDelay.Seconds() {
		return maxRetryDelay, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

// parseRetryAfter parses an HTTP Retry-After value: delay-seconds or an
// HTTP date. Past dates and garbage report false.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0, false
		}
		if secs >= int64(maxRetryDelay/time.Second) {
			return maxRetryDelay, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// RetryDelayOf returns the server's retry hint carried by err, 0 if none.
func RetryDelayOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryDelay
	}
	return 0
}
