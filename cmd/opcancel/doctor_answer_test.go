package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"opcancel/lro"
)

// TestOutagesAreNoAnswerRefusalsAreAnswers: what is no answer, for
// --fail-on=config and the metadata server's warm-up, and what is an
// answer, however unwelcome.
func TestOutagesAreNoAnswerRefusalsAreAnswers(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &url.Error{Op: "Get", URL: "http://169.254.169.254", Err: refused}, true},
		{"DNS", &net.DNSError{Err: "no such host", Name: "vault.googleapis.com"}, true},
		{"timeout", fmt.Errorf("no token within the request's time: %w", context.DeadlineExceeded), true},
		{"metadata server unavailable", &metadata.Error{Code: http.StatusServiceUnavailable}, true},
		{"metadata server refuses (Workload Identity binding)", &metadata.Error{Code: http.StatusForbidden}, false},
		{"token endpoint fails", &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusBadGateway}}, true},
		{"token endpoint refuses", &oauth2.RetrieveError{Response: &http.Response{StatusCode: http.StatusUnauthorized}, ErrorCode: "unauthorized_client"}, false},
		{"metadata not defined", metadata.NotDefinedError("instance/service-accounts/default/token"), false},
		{"no credentials", errors.New("google: could not find default credentials"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := noAnswer(tt.err); got != tt.want {
			t.Errorf("%s: noAnswer(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&lro.Error{Code: lro.Unauthenticated, Err: &metadata.Error{Code: http.StatusServiceUnavailable}}, true},
		{&lro.Error{Code: lro.Unauthenticated, Err: &metadata.Error{Code: http.StatusForbidden}}, false},
		{&lro.Error{Code: lro.Unauthenticated, HTTPStatus: http.StatusUnauthorized}, false},
		{&lro.Error{Code: lro.Transport, Err: refused}, false}, // the API's own: the endpoint check's
	} {
		if got := tokenUnanswered(tt.err); got != tt.want {
			t.Errorf("tokenUnanswered(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{grpcstatus.Error(codes.Unavailable, "connection refused"), true},
		{fmt.Errorf("read subscription: %w", context.DeadlineExceeded), true},
		{grpcstatus.Error(codes.PermissionDenied, "denied"), false},
		{grpcstatus.Error(codes.Internal, "internal"), false},
	} {
		if got := pubsubUnanswered(tt.err); got != tt.want {
			t.Errorf("pubsubUnanswered(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestNoAnswerIsAskedAgainUntilTheWindowEnds: a call that gets no answer
// is made again until it is answered or the window has passed, and no
// longer; an answer, even a refusal, ends it at once.
func TestNoAnswerIsAskedAgainUntilTheWindowEnds(t *testing.T) {
	t.Parallel()
	unanswered := &metadata.Error{Code: http.StatusServiceUnavailable}
	refused := &metadata.Error{Code: http.StatusForbidden}
	tests := []struct {
		name string
		// answers are f's results, in turn; the last repeats.
		answers   []error
		wantErr   error
		wantCalls int
		wantTime  time.Duration
	}{
		{"answered at once", []error{nil}, nil, 1, 0},
		{"ready after a while", []error{unanswered, unanswered, unanswered, nil}, nil, 4, 250*time.Millisecond + 500*time.Millisecond + time.Second},
		{"refused: asked once", []error{refused}, refused, 1, 0},
		// Calls at 0, 0.25, 0.75, 1.75, 3.75, 5.75, 7.75, 9.75 s and, the
		// last, at the window's end.
		{"never ready: until the window's end", []error{unanswered}, unanswered, 9, 10 * time.Second},
	}
	for _, tt := range tests {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			start := time.Now()
			err := untilAnswered(t.Context(), 10*time.Second, noAnswer, func() error {
				calls++
				return tt.answers[min(calls, len(tt.answers))-1]
			})
			if !errors.Is(err, tt.wantErr) || calls != tt.wantCalls || time.Since(start) != tt.wantTime {
				t.Errorf("%s: %v after %d calls and %s; want %v after %d and %s", tt.name, err, calls, time.Since(start), tt.wantErr, tt.wantCalls, tt.wantTime)
			}
		})
	}
}
