package lro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// do sends one request and returns the body of a 2xx answer, or an *Error.
// A cancelled caller context is returned as is (ctx.Err()).
func (c *Client) do(ctx context.Context, svc *Service, method, httpMethod, target string) ([]byte, error) {
	start := c.now()
	code := Transport
	if c.observer != nil {
		c.observer.RequestStarted(svc.Host, method)
		defer func() { c.observer.RequestFinished(svc.Host, method, code, c.now().Sub(start)) }()
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if httpMethod == http.MethodPost {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(rctx, httpMethod, target, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, svc.Host, err)
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.clients[svc.Host].Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e := transportError(err, c.timeout)
		code = e.Code
		return nil, e
	}
	data, readErr := readCapped(resp.Body, MaxBodyBytes)
	resp.Body.Close()
	if readErr != nil && !errors.Is(readErr, errTooLarge) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		e := transportError(readErr, c.timeout)
		code = e.Code
		return nil, e
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		code = OK
		switch {
		case readErr != nil && method != methodCancel:
			// A cancel's answer is Empty: its body is not needed.
			code = Unknown
			return nil, &Error{HTTPStatus: resp.StatusCode, Code: Unknown, Message: fmt.Sprintf("answer body is larger than %d bytes", MaxBodyBytes)}
		case readErr == nil && !jsonOrEmpty(data):
			// A page instead of JSON: a proxy's, not the API's answer, and
			// no sign that the request reached the API (see Misdirected).
			code = Unknown
			return nil, &Error{HTTPStatus: resp.StatusCode, Code: Unknown, Message: "answer is not JSON", NotGoogle: true}
		}
		return data, nil
	}
	var e *Error
	if readErr != nil {
		e = parseError(resp.StatusCode, resp.Header, nil, c.now())
		e.Message = fmt.Sprintf("%s (error body larger than %d bytes)", e.Message, MaxBodyBytes)
	} else {
		e = parseError(resp.StatusCode, resp.Header, data, c.now())
	}
	code = e.Code
	return nil, e
}

var errTooLarge = errors.New("body too large")

// jsonOrEmpty reports whether a 2xx body can be a Google API's: JSON, or
// nothing at all.
func jsonOrEmpty(body []byte) bool {
	return len(bytes.TrimSpace(body)) == 0 || json.Valid(body)
}

// readCapped reads at most limit bytes; a longer body yields errTooLarge.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// transportError describes a request that got no (complete) answer.
func transportError(err error, timeout time.Duration) *Error {
	var ce *credentialError
	if errors.As(err, &ce) {
		return &Error{Code: Unauthenticated, Message: "no token: " + ce.err.Error(), Err: err}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Code: Transport, Message: fmt.Sprintf("no answer within the request timeout (%s)", timeout), Timeout: true, Err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Code: Transport, Message: err.Error(), Err: err}
}
