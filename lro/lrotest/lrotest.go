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
	"encoding/json"
	"fmt"
	"net/http"
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
	// check that they never leak. Empty means a small default: metadata of
	// type Type with createTime Created.
	Metadata json.RawMessage
	Response json.RawMessage
	// Type is the operation's kind: its metadata's type
	// (type.googleapis.com/Type), or operationType in the Cloud SQL and GKE
	// dialects. Empty means google.protobuf.Empty, and no operationType.
	Type string
	// Created is the operation's creation time, where its dialect reports
	// one: metadata.createTime, Cloud SQL's insertTime, GKE's startTime.
	// Zero means none is reported.
	Created time.Time
}

// Options configure a Server.
type Options struct {
	// Services are the APIs the server impersonates: any API of the catalog
	// (lro.ServiceOf) or of a services file, with its hosts, the URL
	// prefixes and cancel form of its routes, and its dialect's operation
	// resources. A request goes to the services whose endpoint or regional
	// endpoint host is its Host, or to every one, in order, when none is (a
	// loopback address). Operations are kept by name, whichever service
	// they are reached through. Empty means the built-in services.
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
