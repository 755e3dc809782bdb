package lro

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryDelay caps any retry hint a server gives: a hint is honoured (never
// retried sooner) but an absurd one (days, overflow) is not obeyed literally.
const maxRetryDelay = 10 * time.Minute

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
