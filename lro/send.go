package lro

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
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
	a, err := c.exchange(ctx, svc, method, httpMethod, target)
	switch {
	case err != nil:
	case a.status >= 200 && a.status < 300:
		err = a.success(method)
	default:
		err = parseError(a.status, a.header, a.body, c.now())
		if a.tooLarge {
			err.(*Error).Message += fmt.Sprintf(" (error body larger than %d bytes)", MaxBodyBytes)
		}
	}
	if err != nil {
		if e := (*Error)(nil); errors.As(err, &e) {
			code = e.Code
		}
		return nil, err
	}
	code = OK
	return a.body, nil
}

// httpAnswer is an answer that arrived whole: its status, headers and body,
// the body cut at MaxBodyBytes (tooLarge) and otherwise as sent.
type httpAnswer struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
}

// exchange sends the request and reads its answer. A request that got no
// answer, or one cut short or damaged on its way (see damaged), is a
// transport failure (Code Transport); a cancelled caller context is
// returned as is.
func (c *Client) exchange(ctx context.Context, svc *Service, method, httpMethod, target string) (*httpAnswer, error) {
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
	if err == nil {
		a := &httpAnswer{status: resp.StatusCode, header: resp.Header}
		a.body, err = readCapped(resp.Body, MaxBodyBytes)
		resp.Body.Close()
		if a.tooLarge = errors.Is(err, errTooLarge); a.tooLarge || err == nil {
			return a, a.damaged()
		}
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, transportError(err, c.timeout)
}

// damaged reports an answer whose content type says JSON and whose body
// begins as JSON but does not parse: cut short on its way (a truncated
// body with a Content-Length to match), not an answer of anyone's. It is a
// transport failure, retried like a reset, and no sign of a misdirection.
// A body that does not even begin as JSON was sent so: a page under the
// wrong content type.
func (a *httpAnswer) damaged() error {
	b := bytes.TrimSpace(a.body)
	if a.tooLarge || !jsonContentType(a.header) || len(b) == 0 || (b[0] != '{' && b[0] != '[') || json.Valid(b) {
		return nil
	}
	return &Error{Code: Transport, Message: fmt.Sprintf("the answer (HTTP %d) was damaged on its way: its JSON body ends early or does not parse", a.status)}
}

// success checks a 2xx answer to method. A body that is not JSON is a
// proxy's page, not the API's answer, and no sign that the request
// reached the API (see Misdirected); so is an answer to a cancel that is
// not google.protobuf.Empty (empty, or {}), which is every catalog API's
// answer to it. An answer to get is checked against the name asked for by
// Get.
func (a *httpAnswer) success(method string) error {
	notGoogle := func(message string) error {
		return &Error{HTTPStatus: a.status, Code: Unknown, Message: message, NotGoogle: true}
	}
	switch {
	case method == methodCancel && !a.empty():
		return notGoogle("the answer to a cancel is not empty, as Google's is")
	case a.tooLarge:
		return &Error{HTTPStatus: a.status, Code: Unknown, Message: fmt.Sprintf("answer body is larger than %d bytes", MaxBodyBytes)}
	case !jsonOrEmpty(a.body):
		return notGoogle("answer is not JSON")
	}
	return nil
}

// empty reports whether the body is google.protobuf.Empty: nothing, or a
// JSON object without members.
func (a *httpAnswer) empty() bool {
	if a.tooLarge {
		return false
	}
	b := bytes.TrimSpace(a.body)
	var m map[string]json.RawMessage
	return len(b) == 0 || b[0] == '{' && json.Unmarshal(b, &m) == nil && len(m) == 0
}

// jsonContentType reports whether the answer says its body is JSON.
func jsonContentType(h http.Header) bool {
	t, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && (t == "application/json" || strings.HasSuffix(t, "+json"))
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
