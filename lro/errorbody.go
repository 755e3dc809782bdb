package lro

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

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
// RATE_LIMIT_EXCEEDED and RESOURCE_QUOTA_EXCEEDED, and rateLimitExceeded
// and userRateLimitExceeded of the older (Workspace) APIs
// (docs/contract.md#api-answers). Whatever the status beside them (Workspace APIs send 403
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
