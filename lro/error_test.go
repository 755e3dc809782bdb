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
		// Without a Google body the code comes from the HTTP status, and
		// the answer is transient whatever the status: it is not
		// recognisably Google's, so it says nothing about the operation.
		{"500 html", 500, "<html>oops</html>", Internal, Transient},
		{"501 plain", 501, "Not Implemented", Unknown, Transient},
		{"502 empty", 502, "", Unavailable, Transient},
		{"503 empty", 503, "", Unavailable, Transient},
		{"504 empty", 504, "", DeadlineExceeded, Transient},
		{"599 empty", 599, "", Unknown, Transient},
		{"400 text", 400, "bad", InvalidArgument, Transient},
		{"401 text", 401, "no", Unauthenticated, Transient},
		{"403 text", 403, "no", PermissionDenied, Transient},
		{"404 html", 404, "<html>", NotFound, Transient},
		{"404 plain", 404, "404 page not found", NotFound, Transient},
		{"404 JSON of a proxy", 404, `{"message":"no Route matched with those values"}`, NotFound, Transient},
		{"405 text", 405, "", Unimplemented, Transient},
		{"408 text", 408, "", DeadlineExceeded, Transient},
		{"409 text", 409, "", Aborted, Transient},
		{"412 text", 412, "", FailedPrecondition, Transient},
		{"416 text", 416, "", OutOfRange, Transient},
		{"418 text", 418, "", InvalidArgument, Transient},
		{"429 text", 429, "slow down", ResourceExhausted, Transient},
		{"499 text", 499, "", Cancelled, Transient},
		{"302 redirect", 302, "", Unknown, Transient},
		// The Google front end's own pages are Google's: the code of their
		// status, and the 404 page says Google serves no such method.
		{"404 Google front end", 404, gfe404, Unimplemented, Permanent},
		{"400 Google front end", 400, gfePage(400, "Bad Request"), InvalidArgument, Permanent},
		{"502 Google front end", 502, gfePage(502, "Server Error"), Unavailable, Transient},
		// Google bodies: the status string, else the body's code.
		{"404 Google body", 404, `{"error":{"code":404,"status":"NOT_FOUND","message":"Operation not found."}}`, NotFound, Permanent},
		{"404 legacy Google body", 404, `{"error":{"code":404,"message":"Not found.","errors":[{"domain":"global","reason":"notFound","message":"Not found."}]}}`, NotFound, Permanent},
		{"501 legacy Google body", 501, `{"error":{"code":501,"message":"Not implemented.","errors":[{"domain":"global","reason":"notImplemented"}]}}`, Unimplemented, Permanent},
		// A Google body wins over the HTTP status.
		{"503 says NOT_FOUND", 503, `{"error":{"code":503,"status":"NOT_FOUND"}}`, NotFound, Permanent},
		{"200 says UNAVAILABLE", 404, `{"error":{"code":404,"status":"UNAVAILABLE"}}`, Unavailable, Transient},
		// Unknown status string: the body's numeric code, then the HTTP status.
		{"unknown status, body code", 400, `{"error":{"code":503,"status":"WHATEVER"}}`, Unavailable, Transient},
		{"unknown status, bad code", 403, `{"error":{"code":7,"status":"WHATEVER"}}`, PermissionDenied, Permanent},
		{"unknown status, 501", 400, `{"error":{"code":501,"status":"WHATEVER"}}`, Unimplemented, Permanent},
		{"error is not an object", 503, `{"error":"nope"}`, Unavailable, Transient},
		{"json without error", 400, `{"message":"x"}`, InvalidArgument, Transient},
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

// gfePage is the Google front end's own error page for status.
func gfePage(status int, title string) string {
	return fmt.Sprintf(`<!DOCTYPE html>
<html lang=en>
  <meta charset=utf-8>
  <title>Error %[1]d (%[2]s)!!1</title>
  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>
  <p><b>%[1]d.</b> <ins>That’s an error.</ins>
  <p>Your client has issued a malformed or illegal request.  <ins>That’s all we know.</ins>`, status, title)
}

// TestNotGoogleAnswersAreMisdirected: an answer that is not recognisably
// Google's (no Google JSON error body, not the Google front end's own
// page) is misdirected whatever its status: a proxy, a gateway or a wrong
// endpoint answered, and it says nothing about the operation. It is
// transient, never an outcome to ack. Google's own answers are not.
func TestNotGoogleAnswersAreMisdirected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		body   string
		want   bool
	}{
		{"404 plain", 404, "404 page not found", true},
		{"404 empty", 404, "", true},
		{"405 plain", 405, "Method Not Allowed", true},
		{"403 RBAC of a service mesh", 403, "RBAC: access denied", true},
		{"403 HTML block page", 403, blockPage, true},
		{"400 of a proxy", 400, "<html><head><title>400 Bad Request</title></head><body><center><h1>400 Bad Request</h1></center><hr><center>nginx</center></body></html>", true},
		{"413 of a proxy", 413, "<html><head><title>413 Request Entity Too Large</title></head><body><center><h1>413 Request Entity Too Large</h1></center></body></html>", true},
		{"431 of a proxy", 431, "Request Header Fields Too Large", true},
		{"401 of a proxy", 401, "Unauthorized", true},
		{"407 of a proxy", 407, "Proxy Authentication Required", true},
		{"412 of a proxy", 412, "", true},
		{"429 of a proxy", 429, "Too Many Requests", true},
		{"503 of a proxy", 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", true},
		{"302 to a login page", 302, `<a href="https://sso.example.com/">Found</a>`, true},
		{"JSON of a proxy", 403, `{"message":"Forbidden"}`, true},
		{"JSON error string of a proxy", 403, `{"error":"access_denied"}`, true},
		{"JSON error object without Google's status or errors", 403, `{"error":{"code":403,"message":"Forbidden"}}`, true},
		{"empty JSON error object", 403, `{"error":{}}`, true},
		{"truncated Google body", 403, `{"error":{"code":403,"status":"PERMISSION_DENIED","mess`, true},
		{"another status's front-end page", 403, gfePage(404, "Not Found"), true},
		{"404 Google front end", 404, gfe404, false},
		{"400 Google front end", 400, gfePage(400, "Bad Request"), false},
		{"403 Google front end", 403, gfePage(403, "Forbidden"), false},
		{"502 Google front end", 502, gfePage(502, "Server Error"), false},
		{"404 Google body", 404, `{"error":{"code":404,"status":"NOT_FOUND"}}`, false},
		{"403 Google body", 403, `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"The caller does not have permission"}}`, false},
		{"403 legacy Google body", 403, `{"error":{"code":403,"message":"Forbidden","errors":[{"domain":"global","reason":"forbidden"}]}}`, false},
		{"503 Google body", 503, `{"error":{"code":503,"status":"UNAVAILABLE"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := parseError(tt.status, http.Header{}, []byte(tt.body), time.Now())
			if got := Misdirected(err); got != tt.want {
				t.Errorf("Misdirected(%d %.40q) = %v, want %v (%v)", tt.status, tt.body, got, tt.want, err)
			}
			if tt.want && Classify(err) != Transient {
				t.Errorf("Classify(%d %.40q) = %v, want transient", tt.status, tt.body, Classify(err))
			}
			if tt.want && !strings.Contains(err.Error(), "not recognisably Google's") {
				t.Errorf("Error() = %q, want it to say the answer is not Google's", err.Error())
			}
		})
	}
	if Misdirected(errors.New("x")) || Misdirected(nil) || Misdirected(&Error{Code: Transport}) {
		t.Error("Misdirected of a foreign error, nil or no answer")
	}
}

// blockPage is the kind of page an egress or TLS-inspecting proxy serves
// for a request its policy blocks.
const blockPage = `<!DOCTYPE html><html><head><title>Access Denied</title></head>
<body><h1>Access Denied</h1><p>Your request to vault.googleapis.com was blocked by your organisation's security policy.</p>
<p>Reference #18.5e2c3b17.1700000000.1a2b3c4d</p></body></html>`

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

// TestQuotaIn403: a quota error in a 403 is RESOURCE_EXHAUSTED (retried,
// and slowing the service down), not PERMISSION_DENIED (acked as denied).
// The quota reasons are the ErrorInfo reasons RATE_LIMIT_EXCEEDED and
// RESOURCE_QUOTA_EXCEEDED and the legacy rateLimitExceeded and
// userRateLimitExceeded, found in an ErrorInfo detail or in errors[],
// whichever comes first. The quota reason is kept, and the error's text
// says it.
func TestQuotaIn403(t *testing.T) {
	t.Parallel()
	errorInfo := func(reason string) string {
		return `{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"` + reason + `","domain":"googleapis.com","metadata":{"service":"vault.googleapis.com"}}`
	}
	legacy := func(reason string) string {
		return `{"message":"User Rate Limit Exceeded","domain":"usageLimits","reason":"` + reason + `"}`
	}
	body := func(details, errs []string) string {
		return `{"error":{"code":403,"message":"Quota exceeded.","status":"PERMISSION_DENIED","errors":[` +
			strings.Join(errs, ",") + `],"details":[` + strings.Join(details, ",") + `]}}`
	}
	exhausted := func(reason, domain string) Error {
		return Error{HTTPStatus: 403, Code: ResourceExhausted, Message: "Quota exceeded.", Reason: reason, Domain: domain}
	}
	tests := []struct {
		name     string
		body     string
		want     Error
		wantText string
	}{
		{"today's Workspace form: errors[] and ErrorInfo",
			body([]string{errorInfo("RATE_LIMIT_EXCEEDED")}, []string{legacy("userRateLimitExceeded")}),
			exhausted("RATE_LIMIT_EXCEEDED", "googleapis.com"),
			"RESOURCE_EXHAUSTED (HTTP 403): Quota exceeded. (reason RATE_LIMIT_EXCEEDED)"},
		{"ErrorInfo RATE_LIMIT_EXCEEDED", body([]string{errorInfo("RATE_LIMIT_EXCEEDED")}, nil), exhausted("RATE_LIMIT_EXCEEDED", "googleapis.com"), ""},
		{"ErrorInfo RESOURCE_QUOTA_EXCEEDED", body([]string{errorInfo("RESOURCE_QUOTA_EXCEEDED")}, nil), exhausted("RESOURCE_QUOTA_EXCEEDED", "googleapis.com"), ""},
		{"ErrorInfo rateLimitExceeded", body([]string{errorInfo("rateLimitExceeded")}, nil), exhausted("rateLimitExceeded", "googleapis.com"), ""},
		{"ErrorInfo userRateLimitExceeded", body([]string{errorInfo("userRateLimitExceeded")}, nil), exhausted("userRateLimitExceeded", "googleapis.com"), ""},
		{"legacy userRateLimitExceeded", body(nil, []string{legacy("userRateLimitExceeded")}), exhausted("userRateLimitExceeded", "usageLimits"),
			"RESOURCE_EXHAUSTED (HTTP 403): Quota exceeded. (reason userRateLimitExceeded)"},
		{"legacy rateLimitExceeded", body(nil, []string{legacy("rateLimitExceeded")}), exhausted("rateLimitExceeded", "usageLimits"), ""},
		{"legacy RATE_LIMIT_EXCEEDED", body(nil, []string{legacy("RATE_LIMIT_EXCEEDED")}), exhausted("RATE_LIMIT_EXCEEDED", "usageLimits"), ""},
		{"another ErrorInfo first", body([]string{errorInfo("SOMETHING_ELSE"), errorInfo("RESOURCE_QUOTA_EXCEEDED")}, nil), exhausted("RESOURCE_QUOTA_EXCEEDED", "googleapis.com"), ""},
		{"another legacy reason first", body(nil, []string{legacy("forbidden"), legacy("userRateLimitExceeded")}), exhausted("userRateLimitExceeded", "usageLimits"), ""},
		{"ErrorInfo says another thing, errors[] a quota", body([]string{errorInfo("ACCESS_DENIED")}, []string{legacy("rateLimitExceeded")}), exhausted("rateLimitExceeded", "usageLimits"), ""},
		{"another reason stays denied", body([]string{errorInfo("IAM_PERMISSION_DENIED")}, []string{legacy("insufficientPermissions")}),
			Error{HTTPStatus: 403, Code: PermissionDenied, Message: "Quota exceeded.", Reason: "IAM_PERMISSION_DENIED", Domain: "googleapis.com"},
			"PERMISSION_DENIED (HTTP 403): Quota exceeded. (reason IAM_PERMISSION_DENIED)"},
		{"a legacy reason alone stays denied", body(nil, []string{legacy("insufficientPermissions")}),
			Error{HTTPStatus: 403, Code: PermissionDenied, Message: "Quota exceeded.", Reason: "insufficientPermissions", Domain: "usageLimits"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseError(403, http.Header{}, []byte(tt.body), time.Now())
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("parseError (-want +got):\n%s", diff)
			}
			wantClass := Permanent
			if tt.want.Code == ResourceExhausted {
				wantClass = Transient
			}
			if c := Classify(got); c != wantClass {
				t.Errorf("Classify = %v, want %v", c, wantClass)
			}
			if tt.wantText != "" && got.Error() != tt.wantText {
				t.Errorf("Error() = %q, want %q", got.Error(), tt.wantText)
			}
		})
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
