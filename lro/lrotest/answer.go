package lrotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"opcancel/lro"
)

// Answer is one scripted HTTP answer. The zero Answer is 200 with "{}".
type Answer struct {
	// Status is the HTTP status; 0 means 200, or the code's usual status
	// when Code is set.
	Status int
	// Code, when not OK, makes the body a Google error with this status.
	Code lro.Code
	// Message is the Google error's message.
	Message string
	// RetryDelay adds a google.rpc.RetryInfo detail.
	RetryDelay time.Duration
	// RetryAfter sets the Retry-After header verbatim.
	RetryAfter string
	// Reason adds a google.rpc.ErrorInfo detail with this reason.
	Reason string
	// Body replaces the body entirely; ContentType sets its content type.
	Body        []byte
	ContentType string
	// Hang never answers: the handler waits until the client gives up.
	Hang bool
	// Reset drops the connection without an answer.
	Reset bool
	// Drip sends the body one byte at a time with this pause between bytes.
	Drip time.Duration
}

// Err returns a Google error answer with code's usual HTTP status.
func Err(code lro.Code, message string) Answer {
	return Answer{Code: code, Message: message}
}

// Unavailable is a 503 UNAVAILABLE carrying RetryInfo when retryDelay > 0.
func Unavailable(retryDelay time.Duration) Answer {
	return Answer{Code: lro.Unavailable, Message: "The service is currently unavailable.", RetryDelay: retryDelay}
}

// Exhausted is a 429 RESOURCE_EXHAUSTED with RetryInfo and, if retryAfter is
// not empty, a Retry-After header.
func Exhausted(retryDelay time.Duration, retryAfter string) Answer {
	return Answer{Code: lro.ResourceExhausted, Message: "Quota exceeded.", RetryDelay: retryDelay, RetryAfter: retryAfter, Reason: "RATE_LIMIT_EXCEEDED"}
}

// HTML404 is the 404 page a Google front end serves for a path it does not route.
func HTML404() Answer { return FrontEndPage(http.StatusNotFound) }

// FrontEndPage is the Google front end's own HTML error page for status, as
// it serves it for a request that reaches no API behind it: a path none
// serves (404), a method the path does not take (405), a request it
// refuses (400, 413), its own failure (502).
func FrontEndPage(status int) Answer {
	title, detail := http.StatusText(status), "Your client has issued a request this server cannot serve."
	switch {
	case status == http.StatusNotFound:
		detail = "The requested URL was not found on this server."
	case status == http.StatusMethodNotAllowed:
		detail = "The request method is inappropriate for the URL."
	case status == http.StatusBadRequest:
		detail = "Your client has issued a malformed or illegal request."
	case status >= 500:
		title = "Server Error"
		detail = "The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds."
	}
	page := fmt.Sprintf(`<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">
  <title>Error %[1]d (%[2]s)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>%[1]d.</b> <ins>That’s an error.</ins>
  <p>%[3]s  <ins>That’s all we know.</ins>
`, status, title, detail)
	return Answer{Status: status, ContentType: "text/html; charset=UTF-8", Body: []byte(page)}
}

// NotGoogle lists answers that something other than a Google API gives,
// named: a service mesh, an egress or TLS-inspecting proxy, an ingress or
// gateway in front of the endpoint. None of them says anything about an
// operation.
func NotGoogle() map[string]Answer {
	html := func(status int, title string) Answer {
		return Answer{Status: status, ContentType: "text/html",
			Body: fmt.Appendf(nil, "<html><head><title>%[1]d %[2]s</title></head><body><center><h1>%[1]d %[2]s</h1></center><hr><center>nginx</center></body></html>", status, title)}
	}
	plain := func(status int, body string) Answer {
		return Answer{Status: status, ContentType: "text/plain", Body: []byte(body)}
	}
	return map[string]Answer{
		"403 RBAC of a service mesh": plain(http.StatusForbidden, "RBAC: access denied"),
		"403 block page of a proxy": {Status: http.StatusForbidden, ContentType: "text/html", Body: []byte(`<!DOCTYPE html><html><head><title>Access Denied</title></head>` +
			`<body><h1>Access Denied</h1><p>Your request was blocked by your organisation's security policy.</p></body></html>`)},
		"200 block page of a proxy": {Status: http.StatusOK, ContentType: "text/html", Body: []byte(`<!DOCTYPE html><html><head><title>Blocked</title></head>` +
			`<body><h1>This site is blocked</h1><p>Category: uncategorised.</p></body></html>`)},
		"400 of a proxy":            html(http.StatusBadRequest, "Bad Request"),
		"413 of a proxy":            html(http.StatusRequestEntityTooLarge, "Request Entity Too Large"),
		"431 of a proxy":            plain(http.StatusRequestHeaderFieldsTooLarge, "Request Header Fields Too Large"),
		"404 of an ingress":         plain(http.StatusNotFound, "default backend - 404"),
		"403 JSON of a gateway":     {Status: http.StatusForbidden, Body: []byte(`{"message":"Forbidden"}`)},
		"403 JSON error of a proxy": {Status: http.StatusForbidden, Body: []byte(`{"error":{"code":403,"message":"Forbidden"}}`)},
		"200 JSON of a gateway":     {Status: http.StatusOK, Body: []byte(`{"message":"Forbidden"}`)},
	}
}

// NotTheOperation lists 2xx JSON answers to operations.get that are not
// the operation asked for, named: a gateway's empty object, and another
// operation, done. Google's names the operation (docs/contract.md#api-answers).
// To a cancel, whose answer is Empty, the first is Google's.
func NotTheOperation() map[string]Answer {
	return map[string]Answer{
		"200 empty JSON object of a gateway": {Status: http.StatusOK, Body: []byte(`{}`)},
		"200 another operation, done": {Status: http.StatusOK, Body: []byte(`{"name":"operations/another","done":true,` +
			`"response":{"@type":"type.googleapis.com/google.protobuf.Empty"}}`)},
	}
}

// httpStatus is the usual HTTP status of each google.rpc code (code.proto).
var httpStatus = map[lro.Code]int{
	lro.OK: 200, lro.Cancelled: 499, lro.Unknown: 500, lro.InvalidArgument: 400,
	lro.DeadlineExceeded: 504, lro.NotFound: 404, lro.AlreadyExists: 409,
	lro.PermissionDenied: 403, lro.ResourceExhausted: 429, lro.FailedPrecondition: 400,
	lro.Aborted: 409, lro.OutOfRange: 400, lro.Unimplemented: 501, lro.Internal: 500,
	lro.Unavailable: 503, lro.DataLoss: 500, lro.Unauthenticated: 401,
}

func (a Answer) success() bool {
	st := a.Status
	if st == 0 && a.Code == lro.OK {
		st = 200
	}
	return st >= 200 && st < 300 && !a.Hang && !a.Reset
}

// list answers operations.list of parent, paged by pageSize (default 50) and
// pageToken (an offset).
// write sends the answer and returns the status sent (0 if none).
func (a Answer) write(w http.ResponseWriter, r *http.Request) int {
	if a.Hang {
		<-r.Context().Done()
		return 0
	}
	if a.Reset {
		// net/http drops the connection; Transport reports a reset.
		panic(http.ErrAbortHandler)
	}
	status, body := a.Status, a.Body
	ctype := a.ContentType
	if body == nil && a.Code != lro.OK {
		if status == 0 {
			status = httpStatus[a.Code]
		}
		body = a.errorBody(status)
	}
	if status == 0 {
		status = http.StatusOK
	}
	if body == nil {
		body = []byte("{}")
	}
	if ctype == "" {
		ctype = "application/json; charset=UTF-8"
	}
	w.Header().Set("Content-Type", ctype)
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if a.Drip <= 0 {
		w.Write(body)
		return status
	}
	flusher, _ := w.(http.Flusher)
	for i := range body {
		w.Write(body[i : i+1])
		if flusher != nil {
			flusher.Flush()
		}
		t := time.NewTimer(a.Drip)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return status
		}
	}
	return status
}

func (a Answer) errorBody(status int) []byte {
	details := []map[string]any{}
	if a.RetryDelay > 0 {
		details = append(details, map[string]any{
			"@type":      "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.FormatFloat(a.RetryDelay.Seconds(), 'f', -1, 64) + "s",
		})
	}
	if a.Reason != "" {
		details = append(details, map[string]any{
			"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": a.Reason, "domain": "googleapis.com",
		})
	}
	b, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": status, "message": a.Message, "status": a.Code.String(), "details": details,
	}})
	return b
}

func readAll(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r.Body)
	return buf.Bytes(), err
}
