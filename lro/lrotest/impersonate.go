package lrotest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"

	"opcancel/lro"
	"opcancel/request"
)

// route classifies a request: the service and route it is for, its kind
// ("cancel", "get", "list" or "unrouted") and the operation name (or list
// parent) it names. The first service of byHost whose route matches wins,
// so that services sharing a host are tried in the order of
// Options.Services.
func (s *Server) route(r *http.Request) (kind, name string, svc *lro.Service) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	for _, svc := range s.byHost(r.Host) {
		for _, rt := range svc.Routes {
			rest, ok := strings.CutPrefix(path, rt.Prefix)
			if !ok {
				continue
			}
			if kind, name := classify(r.Method, rest, svc.Dialect, rt); kind != "" {
				return kind, name, svc
			}
		}
	}
	return "unrouted", path, nil
}

// classify tells what a request for the path rest (after the route's
// prefix) is, or "" if it is not one of the route's.
func classify(method, rest string, d lro.Dialect, rt lro.Route) (kind, name string) {
	match := func(n string) bool { return request.ValidateName(n) == nil && rt.Pattern.Match(n) }
	cancelMethod := http.MethodPost
	if rt.CancelGET {
		cancelMethod = http.MethodGet
	}
	if method == cancelMethod {
		if n, ok := strings.CutSuffix(rest, d.CancelSuffix()); ok && match(n) {
			return "cancel", n
		}
	}
	switch {
	case method != http.MethodGet:
	case !rt.NoGet && match(rest):
		return "get", rest
	case !rt.NoList && match(rest+"/x"):
		return "list", rest
	}
	return "", ""
}

// byHost returns the services whose endpoint or regional endpoint host is
// host, or all of them when none is (a loopback address).
func (s *Server) byHost(host string) []*lro.Service {
	var out []*lro.Service
	for _, svc := range s.services {
		if slices.Contains(svc.EndpointHosts(), host) {
			out = append(out, svc)
		}
	}
	if len(out) == 0 {
		return s.services
	}
	return out
}

// dialectOf is the dialect of the service a request was routed to.
func dialectOf(svc *lro.Service) lro.Dialect {
	if svc == nil {
		return lro.DialectAIP
	}
	return svc.Dialect
}

// json renders the operation as the dialect's operation resource.
func (o *op) json(name string, done bool, d lro.Dialect) []byte {
	var m map[string]any
	switch d {
	case lro.DialectCloudSQL:
		m = o.statusJSON(done, "sql#operation")
		m["name"] = lastSegment(name) // Cloud SQL names an operation by its ID
		if e, ok := m["error"].(map[string]any); ok {
			m["error"] = map[string]any{"kind": "sql#operationErrors", "errors": []any{
				map[string]any{"kind": "sql#operationError", "code": e["sqlCode"], "message": e["message"]},
			}}
		}
	case lro.DialectContainer:
		m = o.statusJSON(done, "")
		m["name"] = lastSegment(name)
		if e, ok := m["error"].(map[string]any); ok {
			delete(e, "sqlCode")
		}
	default:
		m = o.longrunningJSON(name, done)
	}
	b, _ := json.Marshal(m)
	return b
}

// longrunningJSON is a google.longrunning.Operation.
func (o *op) longrunningJSON(name string, done bool) map[string]any {
	m := map[string]any{"name": name, "done": done, "metadata": o.metadata()}
	if done {
		switch o.script.Final {
		case Cancelled:
			m["error"] = map[string]any{"code": 1, "message": "Operation was cancelled."}
		case Completed:
			resp := o.script.Response
			if resp == nil {
				resp = json.RawMessage(`{"@type":"type.googleapis.com/google.protobuf.Empty"}`)
			}
			m["response"] = resp
		case Failed:
			m["error"] = map[string]any{"code": 13, "message": "Operation failed."}
		}
	}
	return m
}

// statusJSON is an operation of the status dialects (Cloud SQL, GKE):
// status RUNNING or DONE, an error when it failed or was cancelled, and no
// response (Completed and NoResult look the same). The metadata goes where
// these APIs keep an operation's details.
func (o *op) statusJSON(done bool, kind string) map[string]any {
	m := map[string]any{"status": "RUNNING", "exportContext": o.metadata()}
	if kind != "" {
		m["kind"] = kind
	}
	if o.script.Type != "" {
		m["operationType"] = o.script.Type
	}
	if !o.script.Created.IsZero() {
		created := o.script.Created.UTC().Format(time.RFC3339Nano)
		if kind == "sql#operation" {
			m["insertTime"] = created
		} else {
			m["startTime"] = created
		}
	}
	if !done {
		return m
	}
	m["status"] = "DONE"
	switch o.script.Final {
	case Cancelled:
		m["error"] = map[string]any{"code": 1, "sqlCode": "OPERATION_CANCELLED", "message": "Operation was cancelled."}
	case Failed:
		m["error"] = map[string]any{"code": 13, "sqlCode": "INTERNAL_ERROR", "message": "Operation failed."}
	}
	return m
}

func (o *op) metadata() json.RawMessage {
	if o.script.Metadata != nil {
		return o.script.Metadata
	}
	typ := o.script.Type
	if typ == "" {
		typ = "google.protobuf.Empty"
	}
	m := map[string]any{"@type": "type.googleapis.com/" + typ}
	if !o.script.Created.IsZero() {
		m["createTime"] = o.script.Created.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(m)
	return b
}

// listJSON is a page of operations.list in the dialect's form.
func listJSON(d lro.Dialect, ops []json.RawMessage, next string) []byte {
	key := "operations"
	if d == lro.DialectCloudSQL {
		key = "items"
	}
	b, _ := json.Marshal(map[string]any{key: ops, "nextPageToken": next})
	return b
}

func lastSegment(name string) string {
	return name[strings.LastIndexByte(name, '/')+1:]
}

// HostTransport returns a transport that sends every request, whatever its
// URL's host, to srv, a TLS server (httptest.NewTLSServer) serving a fake,
// and trusts srv's certificate for every host. A client built with Google's
// real endpoints (the services file's defaults, regional endpoints
// included) thus talks to the fake, which sees each request's real Host.
// For tests only: it would let anything impersonate anyone.
func HostTransport(srv *httptest.Server) *http.Transport {
	t := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	// httptest's certificate names example.com; every connection is
	// verified against it instead of the request's host.
	t.TLSClientConfig.ServerName = "example.com"
	return t
}
