package lro

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClassifyEveryCode(t *testing.T) {
	t.Parallel()
	want := map[Code]Class{
		OK:                 Permanent,
		Cancelled:          Transient, // the request was aborted, not the cancel refused
		Unknown:            Transient,
		InvalidArgument:    Permanent,
		DeadlineExceeded:   Transient,
		NotFound:           Permanent,
		AlreadyExists:      Permanent,
		PermissionDenied:   Permanent,
		ResourceExhausted:  Transient,
		FailedPrecondition: Permanent,
		Aborted:            Transient,
		OutOfRange:         Permanent,
		Unimplemented:      Permanent,
		Internal:           Transient,
		Unavailable:        Transient,
		DataLoss:           Permanent,
		Unauthenticated:    Transient,
	}
	if len(allCodes()) != 17 {
		t.Fatalf("allCodes() has %d codes, want 17", len(allCodes()))
	}
	for _, c := range allCodes() {
		w, ok := want[c]
		if !ok {
			t.Fatalf("no expectation for %v", c)
		}
		body := fmt.Appendf(nil, `{"error":{"code":400,"status":%q,"message":"m"}}`, c.String())
		err := parseError(400, http.Header{}, body, time.Now())
		if err.Code != c {
			t.Errorf("parseError(status %s).Code = %v, want %v", c, err.Code, c)
		}
		if got := Classify(err); got != w {
			t.Errorf("Classify(%v) = %v, want %v", c, got, w)
		}
	}
}

func TestClassifyHTTPFallbackAndTransport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		wantCode Code
		want     Class
	}{
		{"500 html", 500, "<html>oops</html>", Internal, Transient},
		{"501 plain", 501, "Not Implemented", Unknown, Transient},
		{"502 empty", 502, "", Unavailable, Transient},
		{"503 empty", 503, "", Unavailable, Transient},
		{"504 empty", 504, "", DeadlineExceeded, Transient},
		{"599 empty", 599, "", Unknown, Transient},
		{"400 text", 400, "bad", InvalidArgument, Permanent},
		{"401 text", 401, "no", Unauthenticated, Transient},
		{"403 text", 403, "no", PermissionDenied, Permanent},
		// A 404 or 405 that is not recognisably Google's may come from an
		// ingress, a proxy, or a wrong endpoint or version: transient.
		{"404 html", 404, "<html>", NotFound, Transient},
		{"404 plain", 404, "404 page not found", NotFound, Transient},
		{"404 JSON of a proxy", 404, `{"message":"no Route matched with those values"}`, NotFound, Transient},
		{"405 text", 405, "", Unimplemented, Transient},
		// The Google front end's own 404 page: Google does not serve the path.
		{"404 Google front end", 404, gfe404, Unimplemented, Permanent},
		{"404 Google body", 404, `{"error":{"code":404,"status":"NOT_FOUND","message":"Operation not found."}}`, NotFound, Permanent},
		{"404 Google body without status", 404, `{"error":{"code":404,"message":"Not found."}}`, NotFound, Permanent},
		{"501 Google body without status", 501, `{"error":{"code":501,"message":"Not implemented."}}`, Unimplemented, Permanent},
		{"501 Google body without code", 501, `{"error":{"message":"Not implemented."}}`, Unimplemented, Permanent},
		{"408 text", 408, "", DeadlineExceeded, Transient},
		{"409 text", 409, "", Aborted, Transient},
		{"412 text", 412, "", FailedPrecondition, Permanent},
		{"416 text", 416, "", OutOfRange, Permanent},
		{"418 text", 418, "", InvalidArgument, Permanent},
		{"429 text", 429, "slow down", ResourceExhausted, Transient},
		{"499 text", 499, "", Cancelled, Transient},
		{"302 redirect", 302, "", Unknown, Transient},
		// A Google body wins over the HTTP status.
		{"503 says NOT_FOUND", 503, `{"error":{"code":503,"status":"NOT_FOUND"}}`, NotFound, Permanent},
		{"200 says UNAVAILABLE", 404, `{"error":{"code":404,"status":"UNAVAILABLE"}}`, Unavailable, Transient},
		// Unknown status string: the body's numeric code, then the HTTP status.
		{"unknown status, body code", 400, `{"error":{"code":503,"status":"WHATEVER"}}`, Unavailable, Transient},
		{"unknown status, bad code", 403, `{"error":{"code":7,"status":"WHATEVER"}}`, PermissionDenied, Permanent},
		{"error is not an object", 503, `{"error":"nope"}`, Unavailable, Transient},
		{"json without error", 400, `{"message":"x"}`, InvalidArgument, Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseError(tt.status, http.Header{}, []byte(tt.body), time.Now())
			if err.Code != tt.wantCode {
				t.Errorf("code = %v, want %v", err.Code, tt.wantCode)
			}
			if got := Classify(err); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}

	others := []struct {
		name string
		err  error
		want Class
	}{
		{"transport", &Error{Code: Transport, Message: "connection refused"}, Transient},
		{"timeout", transportError(context.DeadlineExceeded, time.Second), Transient},
		{"credentials", transportError(&credentialError{err: errors.New("metadata down")}, time.Second), Transient},
		{"wrapped", fmt.Errorf("cancel x: %w", &Error{Code: NotFound}), Permanent},
		{"invalid name", fmt.Errorf("route: %w", ErrInvalid), Permanent},
		{"foreign error", errors.New("something odd"), Transient},
	}
	for _, tt := range others {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("Classify(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := transportError(context.DeadlineExceeded, time.Second).Code; got != Transport {
		t.Errorf("timeout code = %v, want TRANSPORT", got)
	}
	if got := transportError(&credentialError{err: errors.New("x")}, time.Second).Code; got != Unauthenticated {
		t.Errorf("credential failure code = %v, want UNAUTHENTICATED", got)
	}
}

// gfe404 is the page the Google front end serves for a path no API serves.
const gfe404 = `<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error 404 (Not Found)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>404.</b> <ins>That’s an error.</ins>
  <p>The requested URL <code>/v9/operations/x:cancel</code> was not found on this server.  <ins>That’s all we know.</ins>`

// TestMisdirected: only a 404 or 405 that is not recognisably Google's is
// misdirected.
func TestMisdirected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		body   string
		want   bool
	}{
		{404, "404 page not found", true},
		{404, "", true},
		{405, "Method Not Allowed", true},
		{404, gfe404, false},
		{404, string(lrotestHTML404), false},
		{404, `{"error":{"code":404,"status":"NOT_FOUND"}}`, false},
		{405, `{"error":{"code":405,"message":"no"}}`, false},
		{403, "Forbidden", false},
		{503, "", false},
	}
	for _, tt := range tests {
		if got := Misdirected(parseError(tt.status, http.Header{}, []byte(tt.body), time.Now())); got != tt.want {
			t.Errorf("Misdirected(%d %.30q) = %v, want %v", tt.status, tt.body, got, tt.want)
		}
	}
	if Misdirected(errors.New("x")) || Misdirected(nil) {
		t.Error("Misdirected of a foreign error or nil")
	}
}

// lrotestHTML404 is lrotest.HTML404's body (lrotest imports lro).
var lrotestHTML404 = []byte("<!DOCTYPE html><html><body><p><b>404.</b> That’s an error.</p></body></html>")

func TestParseErrorDetails(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	retryInfo := func(d string) string {
		return fmt.Sprintf(`{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":%q}`, d)
	}
	body := func(details ...string) string {
		s := `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Quota exceeded.","details":[`
		for i, d := range details {
			if i > 0 {
				s += ","
			}
			s += d
		}
		return s + "]}}"
	}
	tests := []struct {
		name       string
		status     int
		retryAfter string
		body       string
		want       Error
	}{
		{
			name: "RetryInfo and ErrorInfo",
			body: body(retryInfo("1.5s"), `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com","metadata":{"service":"vault.googleapis.com"}}`),
			want: Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded.", RetryDelay: 1500 * time.Millisecond, Reason: "RATE_LIMIT_EXCEEDED", Domain: "googleapis.com"},
		},
		{
			name: "unknown detail types are ignored",
			body: body(`{"@type":"type.googleapis.com/google.rpc.Help","links":[{"url":"x"}]}`, `{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[]}`, `"not an object"`, retryInfo("2s")),
			want: Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded.", RetryDelay: 2 * time.Second},
		},
		{
			name:       "RetryInfo wins over Retry-After",
			retryAfter: "30",
			body:       body(retryInfo("3s")),
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded.", RetryDelay: 3 * time.Second},
		},
		{
			name:       "Retry-After seconds without RetryInfo",
			retryAfter: "7",
			body:       body(),
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded.", RetryDelay: 7 * time.Second},
		},
		{
			name:       "Retry-After HTTP date",
			retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat),
			body:       "rate limited",
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Too Many Requests", RetryDelay: 90 * time.Second, NotGoogle: true},
		},
		{
			name:       "Retry-After in the past is ignored",
			retryAfter: now.Add(-time.Hour).Format(http.TimeFormat),
			body:       "",
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Too Many Requests", NotGoogle: true},
		},
		{
			name:       "garbage Retry-After and RetryInfo are ignored",
			retryAfter: "soon",
			body:       body(retryInfo("soon"), retryInfo("-5s"), retryInfo("NaNs")),
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded."},
		},
		{
			name:       "absurd delays are capped",
			retryAfter: "99999999999999999",
			body:       body(retryInfo("1e30s")),
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Quota exceeded.", RetryDelay: maxRetryDelay},
		},
		{
			name:       "absurd Retry-After alone is capped",
			retryAfter: "86400",
			body:       "",
			want:       Error{HTTPStatus: 429, Code: ResourceExhausted, Message: "Too Many Requests", RetryDelay: maxRetryDelay, NotGoogle: true},
		},
		{
			name:   "garbage body",
			status: 503,
			body:   "\x00\xff{{{",
			want:   Error{HTTPStatus: 503, Code: Unavailable, Message: "Service Unavailable", NotGoogle: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			status := tt.status
			if status == 0 {
				status = 429
			}
			got := parseError(status, h, []byte(tt.body), now)
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("parseError mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQuotaIn403: the legacy Workspace form of a quota error, a 403 whose
// ErrorInfo or errors[].reason is rateLimitExceeded or
// userRateLimitExceeded, is RESOURCE_EXHAUSTED (retried, and slowing the
// service down), not PERMISSION_DENIED (acked as denied). The reason is
// kept, and the error's text says it.
func TestQuotaIn403(t *testing.T) {
	t.Parallel()
	legacy := func(reason string) string {
		return `{"error":{"code":403,"message":"User Rate Limit Exceeded","status":"PERMISSION_DENIED",` +
			`"errors":[{"message":"User Rate Limit Exceeded","domain":"usageLimits","reason":"` + reason + `"}]}}`
	}
	errorInfo := func(reason string) string {
		return `{"error":{"code":403,"message":"Rate limit.","status":"PERMISSION_DENIED","details":[` +
			`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"` + reason + `","domain":"googleapis.com"}]}}`
	}
	tests := []struct {
		name     string
		body     string
		want     Error
		wantText string
	}{
		{"legacy userRateLimitExceeded", legacy("userRateLimitExceeded"),
			Error{HTTPStatus: 403, Code: ResourceExhausted, Message: "User Rate Limit Exceeded", Reason: "userRateLimitExceeded", Domain: "usageLimits"},
			"RESOURCE_EXHAUSTED (HTTP 403): User Rate Limit Exceeded (reason userRateLimitExceeded)"},
		{"legacy rateLimitExceeded", legacy("rateLimitExceeded"),
			Error{HTTPStatus: 403, Code: ResourceExhausted, Message: "User Rate Limit Exceeded", Reason: "rateLimitExceeded", Domain: "usageLimits"}, ""},
		{"ErrorInfo rateLimitExceeded", errorInfo("rateLimitExceeded"),
			Error{HTTPStatus: 403, Code: ResourceExhausted, Message: "Rate limit.", Reason: "rateLimitExceeded", Domain: "googleapis.com"},
			"RESOURCE_EXHAUSTED (HTTP 403): Rate limit. (reason rateLimitExceeded)"},
		{"ErrorInfo userRateLimitExceeded", errorInfo("userRateLimitExceeded"),
			Error{HTTPStatus: 403, Code: ResourceExhausted, Message: "Rate limit.", Reason: "userRateLimitExceeded", Domain: "googleapis.com"}, ""},
		{"another reason stays denied", legacy("insufficientPermissions"),
			Error{HTTPStatus: 403, Code: PermissionDenied, Message: "User Rate Limit Exceeded", Reason: "insufficientPermissions", Domain: "usageLimits"},
			"PERMISSION_DENIED (HTTP 403): User Rate Limit Exceeded (reason insufficientPermissions)"},
	}
	for _, tt := range tests {
		got := parseError(403, http.Header{}, []byte(tt.body), time.Now())
		if diff := cmp.Diff(tt.want, *got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
		if tt.wantText != "" && got.Error() != tt.wantText {
			t.Errorf("%s: Error() = %q, want %q", tt.name, got.Error(), tt.wantText)
		}
	}
}

func TestCodeNames(t *testing.T) {
	t.Parallel()
	for _, c := range allCodes() {
		got, ok := parseCode(c.String())
		if !ok || got != c {
			t.Errorf("parseCode(%q) = %v, %v; want %v", c.String(), got, ok, c)
		}
	}
	if Transport.String() != "TRANSPORT" {
		t.Errorf("Transport.String() = %q", Transport.String())
	}
	if _, ok := parseCode("unavailable"); ok {
		t.Error("parseCode accepted a lower-case name")
	}
}

func FuzzParseError(f *testing.F) {
	f.Add(503, "", []byte(`{"error":{"code":503,"status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}]}}`))
	f.Add(429, "5", []byte(`rate limited`))
	f.Add(404, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`<html>`))
	f.Add(400, "", []byte(`{"error":{"details":[null,1,"x",{"@type":7}]}}`))
	f.Add(500, "-1", []byte(`{"error":null}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := parseError(status, h, body, time.Now())
		if e.RetryDelay < 0 || e.RetryDelay > maxRetryDelay {
			t.Fatalf("retry delay %v out of [0, %v]", e.RetryDelay, maxRetryDelay)
		}
		if e.Code < 0 || int(e.Code) >= len(codeNames) {
			t.Fatalf("code %d is not a google.rpc code", e.Code)
		}
		_ = Classify(e)
		_ = e.Error()
	})
}

func TestClip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s     string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"abcdefghijk", 10, "abcdefghij…[cut: 11 bytes in all]"},
		// "é" is two bytes: the cut does not split it.
		{"aéééé", 4, "aé…[cut: 9 bytes in all]"},
		{"éé", 1, "…[cut: 4 bytes in all]"},
	}
	for _, tt := range tests {
		if got := Clip(tt.s, tt.limit); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
}

// TestMessagesAreBounded: what is kept of an error body's message, and of
// an operation's error message, is at most MaxMessageBytes and a cut mark,
// however large the body.
func TestMessagesAreBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100_000)
	e := parseError(403, http.Header{}, fmt.Appendf(nil, `{"error":{"code":403,"status":"PERMISSION_DENIED","message":%q}}`, long), time.Now())
	op, err := decodeOperation(fmt.Appendf(nil, `{"name":"operations/a","done":true,"error":{"code":13,"message":%q}}`, long))
	if err != nil {
		t.Fatal(err)
	}
	for what, msg := range map[string]string{"error body": e.Message, "operation error": op.Error.Message} {
		if want := Clip(long, MaxMessageBytes); msg != want {
			t.Errorf("%s message: %d bytes ending %q, want %d bytes ending %q", what, len(msg), msg[len(msg)-30:], len(want), want[len(want)-30:])
		}
	}
}
