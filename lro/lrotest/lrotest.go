// Package lrotest is a scriptable fake of the REST surface of Google
// long-running operations: operations.cancel, get and list of any services it
// impersonates (any API of lro's catalog: its hosts, paths and dialect), in
// the spirit of pstest and httptest.
//
// A *Server is an http.Handler: serve it over loopback sockets with
// httptest.NewServer (or NewTLSServer, or on a fixed port with
// httptest.NewUnstartedServer and your own listener), or in memory through
// Transport, which a test inside a testing/synctest bubble (where sockets
// cannot be used) can drive with fake time.
//
// Each operation follows a Script: its latency, the answers its cancels and
// gets give in order, and the final state it reaches some number of polls after
// a cancel is accepted (or never). Every request is recorded for assertions.
// The server is safe for concurrent use.
//
// This package is internal to opcancel and is not a public API; the module is v0.
package lrotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"opcancel/lro"
)

// State is the final state of an operation.
type State int

const (
	// Cancelled: done with error code 1 (CANCELLED). The default.
	Cancelled State = iota
	// Completed: done with a response; it finished despite the cancel.
	Completed
	// Failed: done with an error other than CANCELLED (INTERNAL).
	Failed
	// NoResult: done with neither error nor response.
	NoResult
)

// Never, as Script.DoneAfterPolls, keeps an operation running forever.
const Never = -1

// Script is how one operation behaves.
type Script struct {
	// Latency delays every answer about this operation (on top of Options.Latency).
	Latency time.Duration
	// Cancel lists the answers to successive cancel requests; the last one
	// repeats. Empty means every cancel is accepted (200 {}), unless the
	// operation is AlreadyDone, which answers FAILED_PRECONDITION.
	Cancel []Answer
	// Get lists answers served to the first len(Get) gets before the
	// operation's own state is served.
	Get []Answer
	// DoneAfterPolls is how many gets after an accepted cancel still show the
	// operation running: 0 means the first poll shows it done; Never, never.
	DoneAfterPolls int
	// Final is the state the operation reaches.
	Final State
	// AlreadyDone makes the operation done in state Final before any cancel.
	AlreadyDone bool
	// Metadata and Response are raw JSON put into the operation's answers, to
	// check that they never leak. Empty means a small default.
	Metadata json.RawMessage
	Response json.RawMessage
}

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
func HTML404() Answer {
	return Answer{Status: http.StatusNotFound, ContentType: "text/html; charset=UTF-8",
		Body: []byte("<!DOCTYPE html><html><body><p><b>404.</b> That’s an error.</p></body></html>")}
}

// httpStatus is the usual HTTP status of each google.rpc code (code.proto).
var httpStatus = map[lro.Code]int{
	lro.OK: 200, lro.Cancelled: 499, lro.Unknown: 500, lro.InvalidArgument: 400,
	lro.DeadlineExceeded: 504, lro.NotFound: 404, lro.AlreadyExists: 409,
	lro.PermissionDenied: 403, lro.ResourceExhausted: 429, lro.FailedPrecondition: 400,
	lro.Aborted: 409, lro.OutOfRange: 400, lro.Unimplemented: 501, lro.Internal: 500,
	lro.Unavailable: 503, lro.DataLoss: 500, lro.Unauthenticated: 401,
}

// Options configure a Server.
type Options struct {
	// Services are the APIs the server impersonates (see impersonate.go):
	// their routes, dialects and hosts. Empty means the built-in services.
	Services []*lro.Service
	// Default scripts an operation the test did not Set, on first contact.
	// nil means unknown operations answer NOT_FOUND.
	Default func(name string) *Script
	// Latency delays every answer.
	Latency time.Duration
	// Quota, when > 0, admits this many requests per second (token bucket
	// with QuotaBurst) and answers the rest 429 RESOURCE_EXHAUSTED with a
	// RetryInfo of QuotaRetryDelay.
	Quota           float64
	QuotaBurst      int
	QuotaRetryDelay time.Duration
	// Fault, when set, sees every request first; a non-nil answer is served
	// instead of the script and does not advance the operation's state.
	Fault func(r *http.Request) *Answer
	// DontRecord keeps no request log (for long benchmarks); counters still work.
	DontRecord bool
}

// Request is one recorded request.
type Request struct {
	Method string
	Host   string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	// Kind is "cancel", "get", "list" or "unrouted".
	Kind string
	// Name is the operation name (or list parent) the path names.
	Name string
	// Service is the host of the impersonated service the request was
	// routed to; empty when unrouted.
	Service string
	// Status is the HTTP status answered (0 if the connection was dropped).
	Status int
	Time   time.Time
}

// Stats counts what the server has seen.
type Stats struct {
	Cancels, Gets, Lists, Unrouted int
	// Throttled counts 429s answered because of Options.Quota.
	Throttled int
	// Faults counts answers served by Options.Fault.
	Faults int
}

type op struct {
	script   Script
	cancels  int
	gets     int
	accepted bool
	polls    int
}

// OpState is what the server knows of one operation.
type OpState struct {
	// Cancels and Gets count the requests received for the operation.
	Cancels, Gets int
	// CancelAccepted reports whether a cancel was answered with success.
	CancelAccepted bool
	// Done reports whether a get would now show the operation done.
	Done bool
}

// Server is the fake API. Create it with New.
type Server struct {
	opts     Options
	services []*lro.Service
	quota    *rate.Limiter

	mu       sync.Mutex
	ops      map[string]*op
	requests []Request
	stats    Stats
}

// New returns a server with no operations; add them with Set or Options.Default.
func New(opts Options) *Server {
	s := &Server{opts: opts, ops: map[string]*op{}, services: opts.Services}
	if len(s.services) == 0 {
		s.services = lro.Builtin()
	}
	if opts.Quota > 0 {
		burst := opts.QuotaBurst
		if burst <= 0 {
			burst = max(1, int(opts.Quota/10))
		}
		s.quota = rate.NewLimiter(rate.Limit(opts.Quota), burst)
	}
	return s
}

// Set scripts the operation name, replacing any earlier script and state.
func (s *Server) Set(name string, script Script) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops[name] = &op{script: script}
}

// Op returns what the server knows of name.
func (s *Server) Op(name string) OpState {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.ops[name]
	if !ok {
		return OpState{}
	}
	return OpState{Cancels: o.cancels, Gets: o.gets, CancelAccepted: o.accepted, Done: o.done(false)}
}

// Names returns the names of all operations the server knows, sorted.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.ops))
	for n := range s.ops {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Requests returns a copy of the request log, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestsFor returns the recorded requests that named name.
func (s *Server) RequestsFor(name string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// done reports whether the operation is done; poll advances the poll count.
func (o *op) done(poll bool) bool {
	if o.script.AlreadyDone {
		return true
	}
	if !o.accepted || o.script.DoneAfterPolls == Never {
		return false
	}
	if poll {
		o.polls++
		return o.polls > o.script.DoneAfterPolls
	}
	return o.polls > o.script.DoneAfterPolls
}

// ServeHTTP serves cancel (POST /{version}/{name}:cancel), get
// (GET /{version}/{name}) and list (GET /{version}/{parent}).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, name, svc := s.route(r)
	status := 0
	if !s.opts.DontRecord {
		body, _ := readAll(r)
		rec := Request{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Kind: kind, Name: name, Time: time.Now()}
		if svc != nil {
			rec.Service = svc.Host
		}
		defer func() {
			rec.Status = status
			s.mu.Lock()
			s.requests = append(s.requests, rec)
			s.mu.Unlock()
		}()
	}

	a, latency := s.decide(r, kind, name, dialectOf(svc))
	if d := s.opts.Latency + latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	status = a.write(w, r)
}

// decide picks the answer and advances the operation's state.
func (s *Server) decide(r *http.Request, kind, name string, d lro.Dialect) (Answer, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "cancel":
		s.stats.Cancels++
	case "get":
		s.stats.Gets++
	case "list":
		s.stats.Lists++
	default:
		s.stats.Unrouted++
	}
	if s.opts.Fault != nil {
		if a := s.opts.Fault(r); a != nil {
			s.stats.Faults++
			return *a, 0
		}
	}
	if s.quota != nil && !s.quota.Allow() {
		s.stats.Throttled++
		return Exhausted(s.opts.QuotaRetryDelay, ""), 0
	}
	switch kind {
	case "list":
		return s.list(r, name, d), 0
	case "unrouted":
		return HTML404(), 0
	}
	o, ok := s.ops[name]
	if !ok && s.opts.Default != nil {
		if sc := s.opts.Default(name); sc != nil {
			o = &op{script: *sc}
			s.ops[name] = o
			ok = true
		}
	}
	if !ok {
		return Err(lro.NotFound, fmt.Sprintf("Operation %s not found.", name)), 0
	}
	if kind == "cancel" {
		i := o.cancels
		o.cancels++
		if n := len(o.script.Cancel); n > 0 {
			a := o.script.Cancel[min(i, n-1)]
			if a.success() {
				o.accepted = true
			}
			return a, o.script.Latency
		}
		if o.script.AlreadyDone {
			return Err(lro.FailedPrecondition, "Operation has already completed."), o.script.Latency
		}
		o.accepted = true
		return Answer{Body: []byte("{}")}, o.script.Latency
	}
	i := o.gets
	o.gets++
	if i < len(o.script.Get) {
		return o.script.Get[i], o.script.Latency
	}
	return Answer{Body: o.json(name, o.done(true), d)}, o.script.Latency
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
func (s *Server) list(r *http.Request, parent string, d lro.Dialect) Answer {
	size := 50
	if v := r.URL.Query().Get("pageSize"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size = n
		}
	}
	offset := 0
	if v := r.URL.Query().Get("pageToken"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Err(lro.InvalidArgument, "Invalid page token.")
		}
		offset = n
	}
	var names []string
	for n := range s.ops {
		if strings.HasPrefix(n, parent+"/") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	ops := []json.RawMessage{}
	next := ""
	for i := offset; i < len(names) && len(ops) < size; i++ {
		o := s.ops[names[i]]
		ops = append(ops, o.json(names[i], o.done(false), d))
		if len(ops) == size && i+1 < len(names) {
			next = strconv.Itoa(i + 1)
		}
	}
	return Answer{Body: listJSON(d, ops, next)}
}

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
