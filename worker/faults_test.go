package worker

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// fault is a way an answer is damaged between the API and the worker.
type fault int

const (
	// resetMidBody sends the headers and half the body, then resets the
	// connection.
	resetMidBody fault = iota
	// stallAfterHeaders sends the headers, then nothing until the client
	// gives up at its request timeout.
	stallAfterHeaders
	// truncatedJSON sends half the body as if it were all of it: a
	// Content-Length that matches the cut.
	truncatedJSON
	// longContentLength announces more bytes than the body has, sends the
	// body, and closes the connection.
	longContentLength
	// goAwayBeforeProcessing answers an HTTP/2 request with a GOAWAY that
	// says no stream was processed (last stream 0).
	goAwayBeforeProcessing
	// goAwayAfterProcessing processes an HTTP/2 request, then sends a GOAWAY
	// that says it was (last stream, its own) and closes the connection
	// without an answer.
	goAwayAfterProcessing
)

// faultyAPI serves a fake API over real sockets, damaging the answer to the
// first request with one method (POST: the cancel; GET: a get) by one
// fault. Unless the fault says otherwise, the API processes the request
// first, as a real one does whose answer is lost on the way.
type faultyAPI struct {
	fake   *lrotest.Server
	fault  fault
	method string
	served atomic.Bool // the fault happened

	mu    sync.Mutex
	conns []net.Conn // HTTP/2 connections, closed by close
}

// due reports whether r is the request to damage, once.
func (f *faultyAPI) due(r *http.Request) bool {
	return r.Method == f.method && f.served.CompareAndSwap(false, true)
}

// ServeHTTP serves HTTP/1.1, hijacking the connection to damage an answer.
func (f *faultyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	f.fake.ServeHTTP(rec, r)
	if !f.due(r) {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	body := rec.Body.Bytes()
	head := func(contentLength int) string {
		return fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			rec.Code, http.StatusText(rec.Code), rec.Header().Get("Content-Type"), contentLength)
	}
	switch f.fault {
	case resetMidBody:
		io.WriteString(conn, head(len(body))+string(body[:len(body)/2]))
		conn.(*net.TCPConn).SetLinger(0) // Close sends a reset
	case stallAfterHeaders:
		io.WriteString(conn, head(len(body)))
		io.Copy(io.Discard, conn) // until the client gives up and closes
	case truncatedJSON:
		io.WriteString(conn, head(len(body)/2)+string(body[:len(body)/2]))
	case longContentLength:
		io.WriteString(conn, head(len(body)+100)+string(body))
	default:
		panic(fmt.Sprintf("fault %d is not one of HTTP/1.1", f.fault))
	}
}

// serveH2 serves one HTTP/2 connection with a framer of its own, since
// net/http's server sends a GOAWAY only when it shuts down gracefully. It
// is enough for bodiless requests: HEADERS in, HEADERS and DATA out.
func (f *faultyAPI) serveH2(_ *http.Server, c *tls.Conn, _ http.Handler) {
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, len(http2.ClientPreface))); err != nil {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if fr.WriteSettings() != nil {
		return
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for {
		frame, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch frame := frame.(type) {
		case *http2.SettingsFrame:
			if !frame.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !frame.IsAck() {
				fr.WritePing(true, frame.Data)
			}
		case *http2.MetaHeadersFrame:
			r := httptest.NewRequest(frame.PseudoValue("method"), "https://"+frame.PseudoValue("authority")+frame.PseudoValue("path"), nil)
			for _, h := range frame.RegularFields() {
				r.Header.Add(h.Name, h.Value)
			}
			due := f.due(r)
			if due && f.fault == goAwayBeforeProcessing {
				fr.WriteGoAway(0, http2.ErrCodeNo, nil)
				continue // the client leaves this connection for a new one
			}
			rec := httptest.NewRecorder()
			f.fake.ServeHTTP(rec, r)
			if due {
				fr.WriteGoAway(frame.StreamID, http2.ErrCodeNo, nil)
				return // closed, the processed request unanswered
			}
			block.Reset()
			enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(rec.Code)})
			enc.WriteField(hpack.HeaderField{Name: "content-type", Value: rec.Header().Get("Content-Type")})
			enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(rec.Body.Len())})
			fr.WriteHeaders(http2.HeadersFrameParam{StreamID: frame.StreamID, BlockFragment: block.Bytes(), EndHeaders: true})
			fr.WriteData(frame.StreamID, true, rec.Body.Bytes())
		}
	}
}

// connections is how many HTTP/2 connections the client opened.
func (f *faultyAPI) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

func (f *faultyAPI) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// startFaultyAPI serves f on loopback, over HTTP/2 with TLS for the GOAWAY
// faults and over HTTP/1.1 for the others, and returns its URL and a
// transport to it: the client's own (lro.NewTransport), trusting the
// server's certificate.
func startFaultyAPI(t *testing.T, f *faultyAPI) (string, *http.Transport) {
	tr := lro.NewTransport(4)
	if f.fault != goAwayBeforeProcessing && f.fault != goAwayAfterProcessing {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		t.Cleanup(tr.CloseIdleConnections)
		return srv.URL, tr
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.EnableHTTP2 = true
	srv.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){http2.NextProtoTLS: f.serveH2}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(f.close)
	t.Cleanup(tr.CloseIdleConnections)
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return srv.URL, tr
}

// TestFaultsBetweenWorkerAndAPI: an answer damaged on the way (a connection
// reset mid-body, a body that stalls after the headers, truncated JSON, a
// Content-Length longer than the body, an HTTP/2 GOAWAY) is never taken for
// an answer: the request is sent again and the job ends with the outcome
// the API really gave, acked. Over real sockets, so outside synctest: every
// wait is bounded by the request timeout the test sets, or by the retry
// budget and verify timeout, which only a failure would reach.
func TestFaultsBetweenWorkerAndAPI(t *testing.T) {
	t.Parallel()
	const requestTimeout = time.Second
	// A quota error in a 403: cut short, it is no answer, neither a
	// refusal nor a misdirection.
	quota := lrotest.Answer{Status: 403, Body: []byte(`{"error":{"code":403,"message":"Quota exceeded.","status":"PERMISSION_DENIED",` +
		`"details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED","domain":"googleapis.com"}]}}`)}
	tests := []struct {
		name   string
		fault  fault
		method string // the request whose answer is damaged
		script lrotest.Script
		// seen is the code the damaged request is counted under in
		// opcancel_api_requests_total: what the client made of it.
		seen string
	}{
		{"reset mid-body of the cancel's answer", resetMidBody, http.MethodPost, lrotest.Script{}, "TRANSPORT"},
		{"reset mid-body of a get's answer", resetMidBody, http.MethodGet, lrotest.Script{}, "TRANSPORT"},
		{"stall after the cancel's headers", stallAfterHeaders, http.MethodPost, lrotest.Script{}, "TRANSPORT"},
		{"stall after a get's headers", stallAfterHeaders, http.MethodGet, lrotest.Script{}, "TRANSPORT"},
		{"truncated JSON of the cancel's answer", truncatedJSON, http.MethodPost, lrotest.Script{}, "TRANSPORT"},
		{"truncated JSON of a get's answer", truncatedJSON, http.MethodGet, lrotest.Script{}, "TRANSPORT"},
		{"truncated JSON of a quota error", truncatedJSON, http.MethodPost, lrotest.Script{Cancel: []lrotest.Answer{quota, {}}}, "TRANSPORT"},
		{"Content-Length longer than the cancel's answer", longContentLength, http.MethodPost, lrotest.Script{}, "TRANSPORT"},
		{"Content-Length longer than a get's answer", longContentLength, http.MethodGet, lrotest.Script{}, "TRANSPORT"},
		// The transport itself sends the request again: the worker sees
		// one request, answered.
		{"GOAWAY before the cancel was processed", goAwayBeforeProcessing, http.MethodPost, lrotest.Script{}, "OK"},
		{"GOAWAY after the cancel was processed", goAwayAfterProcessing, http.MethodPost, lrotest.Script{}, "TRANSPORT"},
		{"GOAWAY after a get was processed", goAwayAfterProcessing, http.MethodGet, lrotest.Script{}, "TRANSPORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lrotest.New(lrotest.Options{})
			api := &faultyAPI{fake: fake, fault: tt.fault, method: tt.method}
			url, tr := startFaultyAPI(t, api)
			table, err := lro.ParseTable("test.yaml", []byte(lrotest.ServicesYAML(lrotest.AllAt(url), nil)), lro.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.BackoffInitial, cfg.BackoffMax = requestTimeout/100, requestTimeout/20
			cfg.PollInitial, cfg.PollMax = requestTimeout/100, requestTimeout/20
			cfg.RetryBudget, cfg.VerifyTimeout = 60*requestTimeout, 60*requestTimeout
			h := wireHarness(t, cfg, table, fake, lro.Config{Auth: lro.AuthNone, Transport: tr, RequestTimeout: requestTimeout})
			fake.Set("operations/x", tt.script)

			got := h.w.Handle(context.Background(), h.delivery("m", "operations/x", nil))
			e, _ := h.outcomeLog("m")
			f := e.ContextMap()
			if got != Cancelled {
				t.Fatalf("outcome %s (%v), want cancelled, as the API answered", got, f["detail"])
			}
			if diff := cmp.Diff([]string{"ack"}, h.settled.get("m")); diff != "" {
				t.Errorf("settlement (-want +got):\n%s", diff)
			}
			if !api.served.Load() {
				t.Fatal("the fault never happened")
			}
			method := map[string]string{http.MethodPost: "cancel", http.MethodGet: "get"}[tt.method]
			if n := testutil.ToFloat64(h.m.APIRequests.WithLabelValues(vault, method, tt.seen)); n != 1 {
				t.Errorf("opcancel_api_requests_total{method=%q,code=%q} = %v, want the damaged answer counted there", method, tt.seen, n)
			}
			if n := testutil.ToFloat64(h.m.MisdirectedRequests.WithLabelValues(vault)); n != 0 {
				t.Errorf("opcancel_api_misdirected_requests_total = %v, want 0: damage on the way is no misdirection", n)
			}
			if w := h.logs.FilterMessageSnippet("not recognisably Google's").All(); len(w) != 0 {
				t.Errorf("%d misdirection warnings, want none: %v", len(w), w)
			}
			st := fake.Op("operations/x")
			switch {
			case tt.fault == goAwayBeforeProcessing:
				// The transport sends the unprocessed request again, on a
				// new connection; the API sees it once.
				if st.Cancels != 1 || api.connections() < 2 || f["attempts"] != int64(1) {
					t.Errorf("cancels %d over %d connections, attempts %v; want 1 cancel, sent again on a second connection", st.Cancels, api.connections(), f["attempts"])
				}
			case tt.method == http.MethodPost:
				if st.Cancels != 2 || f["attempts"] != int64(2) {
					t.Errorf("cancels %d, attempts %v; want the cancel retried once", st.Cancels, f["attempts"])
				}
			default:
				if st.Cancels != 1 || st.Gets != 2 || f["polls"] != int64(2) {
					t.Errorf("cancels %d, gets %d, polls %v; want one cancel and the damaged poll followed by another", st.Cancels, st.Gets, f["polls"])
				}
			}
		})
	}
}
