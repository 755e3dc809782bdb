package lrotest

import (
	"net/http"
	"net/http/httptest"
)

// Transport returns an http.RoundTripper that serves requests in memory,
// whatever their URL's host, without sockets: usable inside a
// testing/synctest bubble. A Reset answer surfaces as a transport error; a
// Hang answer returns when the request's context is done.
func (s *Server) Transport() http.RoundTripper { return memTransport{s} }

type memTransport struct{ s *Server }

// errReset is what a dropped connection looks like in memory.
type errReset struct{}

func (errReset) Error() string { return "lrotest: connection reset by peer" }

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	sreq.RemoteAddr = "127.0.0.1:1"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	aborted := func() (aborted bool) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					panic(v)
				}
				aborted = true
			}
		}()
		t.s.ServeHTTP(rec, sreq)
		return false
	}()
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if aborted {
		return nil, errReset{}
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
