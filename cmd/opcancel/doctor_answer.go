package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"cloud.google.com/go/compute/metadata"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"opcancel/lro"
)

// noAnswer reports whether err is a request that got no answer: no
// connection, a timeout, or a server that said it cannot serve now (5xx,
// 429) where a token was asked for. A token endpoint's refusal (4xx) is an
// answer. With --fail-on=config no answer is a warning, and the metadata
// server is asked again for a while when it gave none.
func noAnswer(err error) bool {
	var refused *metadata.Error
	var retrieve *oauth2.RetrieveError
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case err == nil:
		return false
	case errors.As(err, &refused):
		return refused.Code >= 500 || refused.Code == http.StatusTooManyRequests
	case errors.As(err, &retrieve):
		return retrieve.Response != nil && (retrieve.Response.StatusCode >= 500 || retrieve.Response.StatusCode == http.StatusTooManyRequests)
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &op) || errors.As(err, &dns) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
}

// tokenUnanswered reports whether err is a request not sent for want of a
// token that its token endpoint did not answer.
func tokenUnanswered(err error) bool {
	var e *lro.Error
	return errors.As(err, &e) && e.Code == lro.Unauthenticated && e.HTTPStatus == 0 && noAnswer(e.Err)
}

// untrusted reports whether err is a TLS connection to a server whose
// certificate is not trusted for the host: an answer, from something else
// than the API.
func untrusted(err error) bool {
	var verify *tls.CertificateVerificationError
	var host x509.HostnameError
	var authority x509.UnknownAuthorityError
	return errors.As(err, &verify) || errors.As(err, &host) || errors.As(err, &authority)
}

// pubsubUnanswered reports whether a Pub/Sub call got no answer.
func pubsubUnanswered(err error) bool {
	c := grpcstatus.Code(err)
	return c == codes.Unavailable || c == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded)
}

// metadataWarmup is how long the doctor asks the metadata server again
// while it does not answer: the GKE metadata server may not serve in the
// first seconds of a pod's life (docs/contract.md#opcancel-doctor).
const metadataWarmup = 10 * time.Second

// warmupWindow is the window of untilAnswered for the metadata server:
// metadataWarmup, or --request-timeout if shorter.
func (d *doctor) warmupWindow() time.Duration { return min(metadataWarmup, d.cmd.RequestTimeout) }

// untilAnswered calls f, and again while its error is one retry accepts
// and window has not passed since the first call, pausing 250 ms, then
// twice as long each time up to 2 s; it returns f's last error.
func untilAnswered(ctx context.Context, window time.Duration, retry func(error) bool, f func() error) error {
	deadline := time.Now().Add(window)
	pause := 250 * time.Millisecond
	for {
		err := f()
		left := time.Until(deadline)
		if err == nil || !retry(err) || left <= 0 {
			return err
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}
