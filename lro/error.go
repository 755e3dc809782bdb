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
		Errors  []reason          `json:"errors"`
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

// quotaReasons are the reasons with which Google APIs answer a quota
// error, in a google.rpc.ErrorInfo detail or in the legacy errors[]:
// RATE_LIMIT_EXCEEDED and RESOURCE_QUOTA_EXCEEDED (google.api.ErrorReason),
// and rateLimitExceeded and userRateLimitExceeded of the older (Workspace)
// APIs. Whatever the status beside them (Workspace APIs send 403
// PERMISSION_DENIED), they mean "slow down": a quota, not a permission.
var quotaReasons = map[string]bool{
	"RATE_LIMIT_EXCEEDED": true, "RESOURCE_QUOTA_EXCEEDED": true,
	"rateLimitExceeded": true, "userRateLimitExceeded": true,
}

// parseError turns a non-2xx answer into an *Error. The code comes from the
// body's error.status when the body is a Google error with a known status;
// otherwise from the HTTP status. A quota reason makes it
// RESOURCE_EXHAUSTED. An answer that is neither a Google error body nor
// the Google front end's own page is NotGoogle. The retry delay comes from
// a RetryInfo detail if there is one, else from the Retry-After header
// (seconds or an HTTP date, relative to now). body should already be
// capped by the caller.
func parseError(status int, header http.Header, body []byte, now time.Time) *Error {
	e := &Error{HTTPStatus: status, Code: codeFromHTTP(status)}
	if ge, ok := googleBody(body); ok {
		e.readGoogleBody(ge)
	} else if !e.readFrontEndPage(body) {
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

// googleBody returns the Google error of body, and whether body is one: a
// JSON object whose error has a status string (AIP-193) or the legacy
// errors[] of the older APIs. Any service can answer {"error": {"code":
// 403, "message": "Forbidden"}}; only Google's front ends add the rest.
func googleBody(body []byte) (*googleError, bool) {
	var ge googleError
	if json.Unmarshal(body, &ge) != nil || ge.Error == nil {
		return nil, false
	}
	return &ge, ge.Error.Status != "" || len(ge.Error.Errors) > 0
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
	// The reason is the first ErrorInfo's, else errors[0]'s; but a quota
	// reason anywhere wins, since it is what decides the code.
	var quota *reason
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
			if quota == nil && quotaReasons[d.Reason] {
				quota = &reason{d.Reason, d.Domain}
			}
		}
	}
	for _, r := range ge.Error.Errors {
		if quota == nil && quotaReasons[r.Reason] {
			quota = &reason{r.Reason, r.Domain}
		}
	}
	if e.Reason == "" && len(ge.Error.Errors) > 0 {
		e.Reason, e.Domain = ge.Error.Errors[0].Reason, ge.Error.Errors[0].Domain
	}
	if quota != nil {
		e.Code = ResourceExhausted
		e.Reason, e.Domain = quota.Reason, quota.Domain
	}
	e.Reason, e.Domain = Clip(e.Reason, maxReasonBytes), Clip(e.Domain, maxReasonBytes)
}

// reason is an ErrorInfo's reason and domain, or a legacy errors[] entry's.
type reason struct {
	Reason string `json:"reason"`
	Domain string `json:"domain"`
}

// maxReasonBytes bounds an ErrorInfo reason and domain, which are short
// identifiers in every Google API.
const maxReasonBytes = 128

// readFrontEndPage reads body if it is the Google front end's own HTML
// error page for the answer's status, which it serves for a request that
// reaches no API behind it: "<b>404.</b> <ins>That’s an error.</ins>" (see
// lro/lrotest's FrontEndPage). The page is Google's answer, with the code
// of its status; a 404 page says that Google serves no such method. It
// reports false, leaving e as it is, for any other body.
func (e *Error) readFrontEndPage(body []byte) bool {
	mark := fmt.Appendf(nil, "<b>%d.</b>", e.HTTPStatus)
	if !bytes.Contains(body, mark) ||
		!(bytes.Contains(body, []byte("That’s an error.")) || bytes.Contains(body, []byte("That's an error."))) {
		return false
	}
	if e.HTTPStatus == http.StatusNotFound {
		e.Code = Unimplemented
		e.Message = "the Google front end serves no such method (its HTML 404 page)"
		return true
	}
	e.Message = fmt.Sprintf("the Google front end's own HTML %d page (%s)", e.HTTPStatus, http.StatusText(e.HTTPStatus))
	return true
}

// Misdirected reports whether err is an answer that is not recognisably
// Google's (Error.NotGoogle), whatever its status: a 403 "RBAC: access
// denied" of a service mesh, a proxy's block page or its 400, 413 or 431,
// an ingress's 404, a 2xx page instead of JSON. The request most likely
// never reached the API: the service's endpoint or version is wrong, or a
// proxy or gateway answered. Such an answer says nothing about the
// operation or the method, so it is transient, never an outcome to act on
// (see docs/operations.md#api-answers).
func Misdirected(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotGoogle
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
