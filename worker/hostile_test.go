package worker

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"opcancel/lro/lrotest"
)

// TestHostileAnswers: answers no well-behaved API gives are classified
// sensibly, in bounded time, without a crash.
func TestHostileAnswers(t *testing.T) {
	t.Parallel()
	tenMiB := []byte(`{"done":true,"response":{"x":"` + strings.Repeat("a", 10<<20) + `"}}`)
	tests := []struct {
		name    string
		script  lrotest.Script
		want    Outcome
		code    string
		maxTime time.Duration
	}{
		// A page instead of JSON is not Google's answer: retried, and
		// never the last word of a verification.
		{"non-JSON 200 on cancel is retried", lrotest.Script{Cancel: []lrotest.Answer{{Body: []byte("<html>OK</html>"), ContentType: "text/html"}, {}}}, Cancelled, "OK", 10 * time.Second},
		{"non-JSON 200 on every get", lrotest.Script{Get: repeat(lrotest.Answer{Body: []byte("not json")}, 100)}, RetryExhausted, "UNKNOWN", 5 * time.Minute},
		{"10 MiB operation", lrotest.Script{Get: repeat(lrotest.Answer{Body: tenMiB}, 100)}, Unverified, "UNKNOWN", 5 * time.Minute},
		{"slow drip on cancel", lrotest.Script{Cancel: []lrotest.Answer{{Body: []byte(`{"padding":"` + strings.Repeat("x", 100) + `"}`), Drip: time.Second}}}, RetryExhausted, "TRANSPORT", 2*time.Minute + 30*time.Second},
		{"JSON under a wrong content type", lrotest.Script{Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/x","done":true,"error":{"code":1,"message":"c"}}`), ContentType: "image/png"}}}, Cancelled, "OK", 10 * time.Second},
		{"done with both error and response", lrotest.Script{Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/x","done":true,"error":{"code":13,"message":"e"},"response":{"@type":"x"}}`)}}}, Failed, "OK", 10 * time.Second},
		// A google.rpc.Status with code 0 (OK) is no error.
		{"done with an empty error", lrotest.Script{Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/x","done":true,"error":{}}`)}}}, DoneNoResult, "OK", 10 * time.Second},
		{"done with an OK error and a response", lrotest.Script{Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/x","done":true,"error":{"code":0,"message":"fine"},"response":{"@type":"x"}}`)}}}, Completed, "OK", 10 * time.Second},
		// JSON that is no operation is not Google's: never the last word
		// of a verification either.
		{"error code of the wrong type", lrotest.Script{Get: repeat(lrotest.Answer{Body: []byte(`{"name":"operations/x","done":true,"error":{"code":"one"}}`)}, 100)}, RetryExhausted, "UNKNOWN", 5 * time.Minute},
		{"unknown status string", lrotest.Script{Cancel: []lrotest.Answer{{Status: 400, Body: []byte(`{"error":{"code":400,"status":"TOTALLY_NEW","message":"?"}}`)}}}, Rejected, "INVALID_ARGUMENT", time.Second},
		{"unknown status with a 503", lrotest.Script{Cancel: []lrotest.Answer{{Status: 503, Body: []byte(`{"error":{"code":503,"status":"TOTALLY_NEW"}}`)}, {}}}, Cancelled, "OK", 10 * time.Second},
		{"absurd RetryInfo", lrotest.Script{Cancel: []lrotest.Answer{{Status: 429, Body: []byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"31536000000s"}]}}`)}}}, RetryExhausted, "RESOURCE_EXHAUSTED", 2 * time.Minute},
		{"absurd Retry-After", lrotest.Script{Cancel: []lrotest.Answer{{Status: 503, RetryAfter: "99999999999999999999", Body: []byte("busy")}}}, RetryExhausted, "UNAVAILABLE", time.Minute * 2},
		{"negative RetryInfo", lrotest.Script{Cancel: []lrotest.Answer{{Status: 503, Body: []byte(`{"error":{"code":503,"status":"UNAVAILABLE","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"-5s"}]}}`)}, {}}}, Cancelled, "OK", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, DefaultConfig(), lrotest.Options{}, "")
				h.fake.Set("operations/x", tt.script)
				start := time.Now()
				got := h.w.Handle(context.Background(), h.delivery("m", "operations/x", nil))
				took := time.Since(start)
				e, _ := h.outcomeLog("m")
				if got != tt.want || e.ContextMap()["code"] != tt.code {
					t.Errorf("outcome %s, code %v; want %s, %s (%v)", got, e.ContextMap()["code"], tt.want, tt.code, e.ContextMap()["detail"])
				}
				if took > tt.maxTime {
					t.Errorf("took %v, want at most %v", took, tt.maxTime)
				}
			})
		})
	}
}

func repeat(a lrotest.Answer, n int) []lrotest.Answer {
	out := make([]lrotest.Answer, n)
	for i := range out {
		out[i] = a
	}
	return out
}
