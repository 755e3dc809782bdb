package lro_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

const secretToken = "ya29.secret-test-token"

// newClient returns a client whose services all point at endpoint.
func newClient(t *testing.T, endpoint string, cfg lro.Config) (*lro.Client, *lro.Table) {
	t.Helper()
	table := newTable(t, endpoint, cfg.Auth)
	c, err := lro.New(context.Background(), table, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, table
}

// newTable returns a table whose services all point at endpoint, allowed
// to receive tokens with auth adc.
func newTable(t *testing.T, endpoint, auth string) *lro.Table {
	t.Helper()
	var extra map[string]string
	if auth == lro.AuthADC {
		extra = lrotest.TokensToFakes(lrotest.AllAt(endpoint), nil)
	}
	yaml := lrotest.ServicesYAML(lrotest.AllAt(endpoint), extra)
	table, err := lro.ParseTable("test.yaml", []byte(yaml), lro.FileOptions{SendsTokens: auth == lro.AuthADC})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

func staticTokens(_ context.Context, _ []string, _ string) (oauth2.TokenSource, error) {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: secretToken, TokenType: "Bearer"}), nil
}

func TestRequestsAgainstFake(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/abc", lrotest.Script{})
	fake.Set("enterprises/e1/devices/d1/operations/o1", lrotest.Script{Final: lrotest.Completed})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, table := newClient(t, srv.URL, lro.Config{Auth: lro.AuthNone, UserAgent: "opcancel/test"})
	ctx := context.Background()
	vault := table.Lookup("vault.googleapis.com")
	amapi := table.Lookup("androidmanagement.googleapis.com")

	if err := c.Cancel(ctx, vault, "operations/abc"); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	op, err := c.Get(ctx, vault, "operations/abc")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	wantOp := &lro.Operation{Name: "operations/abc", Done: true, Error: &lro.Status{Code: lro.Cancelled, Message: "Operation was cancelled."},
		Type: "google.protobuf.Empty"}
	if diff := cmp.Diff(wantOp, op); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if err := c.Cancel(ctx, amapi, "enterprises/e1/devices/d1/operations/o1"); err != nil {
		t.Fatalf("Cancel = %v", err)
	}
	op, err = c.Get(ctx, amapi, "enterprises/e1/devices/d1/operations/o1")
	if err != nil {
		t.Fatal(err)
	}
	if !op.Done || !op.HasResponse || op.Error != nil {
		t.Errorf("completed op = %+v", op)
	}

	type sent struct{ Method, Path, Body, Auth, UA, ContentLength string }
	var got []sent
	for _, r := range fake.Requests() {
		got = append(got, sent{r.Method, r.Path, string(r.Body), r.Header.Get("Authorization"), r.Header.Get("User-Agent"), r.Header.Get("Content-Length")})
	}
	want := []sent{
		{"POST", "/v1/operations/abc:cancel", "", "", "opcancel/test", "0"},
		{"GET", "/v1/operations/abc", "", "", "opcancel/test", ""},
		{"POST", "/v1/enterprises/e1/devices/d1/operations/o1:cancel", "", "", "opcancel/test", "0"},
		{"GET", "/v1/enterprises/e1/devices/d1/operations/o1", "", "", "opcancel/test", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestInvalidNamesSendNothing(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthNone, Transport: fake.Transport()})
	vault := table.Lookup("vault.googleapis.com")
	ctx := context.Background()
	for _, name := range []string{"operations/../x", "operations/a%2Fb", "operations/a?x", "enterprises/e/devices/d/operations/o", ""} {
		if err := c.Cancel(ctx, vault, name); !errors.Is(err, lro.ErrInvalid) {
			t.Errorf("Cancel(%q) = %v, want ErrInvalid", name, err)
		}
		if _, err := c.Get(ctx, vault, name); !errors.Is(err, lro.ErrInvalid) {
			t.Errorf("Get(%q) = %v, want ErrInvalid", name, err)
		}
	}
	// A service that is not the client's own, even with the same host.
	impostor := *vault
	impostor.Endpoint, _ = url.Parse("https://attacker.test")
	if err := c.Cancel(ctx, &impostor, "operations/x"); !errors.Is(err, lro.ErrInvalid) {
		t.Errorf("Cancel via a foreign *Service = %v, want ErrInvalid", err)
	}
	if _, err := c.List(ctx, vault, "enterprises", lro.ListQuery{}); !errors.Is(err, lro.ErrInvalid) {
		t.Errorf("List(bad parent) = %v, want ErrInvalid", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent for invalid input, want 0", n)
	}
}

// TestForbiddenNamesSendNothing: the client itself refuses a name its
// service's allow list forbids, and a list of a parent none of whose
// operations it admits, whatever its caller checked.
func TestForbiddenNamesSendNothing(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	yaml := lrotest.ServicesYAML(lrotest.AllAt("https://fake.test"), map[string]string{"vault.googleapis.com": `allow: ["operations/team-a/**"]`})
	table, err := lro.ParseTable("t.yaml", []byte(yaml), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthNone, Transport: fake.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	vault, ctx := table.Lookup("vault.googleapis.com"), context.Background()
	if err := c.Cancel(ctx, vault, "operations/team-b/x"); !errors.Is(err, lro.ErrForbidden) {
		t.Errorf("Cancel(outside the allow list) = %v, want ErrForbidden", err)
	}
	if _, err := c.Get(ctx, vault, "operations/team-b/x"); !errors.Is(err, lro.ErrForbidden) {
		t.Errorf("Get(outside the allow list) = %v, want ErrForbidden", err)
	}
	if _, err := c.List(ctx, vault, "operations/team-b", lro.ListQuery{}); !errors.Is(err, lro.ErrForbidden) {
		t.Errorf("List(a parent outside the allow list) = %v, want ErrForbidden", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent for forbidden names, want 0", n)
	}
	if err := c.Cancel(ctx, vault, "operations/team-a/x"); err != nil || len(fake.Requests()) != 1 {
		t.Errorf("Cancel(inside the allow list) = %v, %d requests", err, len(fake.Requests()))
	}
}

// TestTokensOnlyToGoogleUnlessTheFileSaysSo: with auth adc, a client for a
// service whose endpoint is outside Google's domain is refused unless its
// entry opted in, even for a table loaded without the file's checks.
func TestTokensOnlyToGoogleUnlessTheFileSaysSo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		yaml string
		ok   bool
	}{
		{"services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n", false},
		{"services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n    allowTokenOutsideGoogle: true\n    scopes: [\"https://www.googleapis.com/auth/ediscovery\"]\n", true},
		{"services:\n  - host: vault.googleapis.com\n    endpoint: https://private.googleapis.com\n", true},
		{"services:\n  - host: aiplatform.googleapis.com\n", true},
	} {
		table, err := lro.ParseTable("t.yaml", []byte(tt.yaml), lro.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lro.New(context.Background(), table, lro.Config{Auth: lro.AuthADC, TokenSource: staticTokens})
		if ok := err == nil; ok != tt.ok {
			t.Errorf("New(adc) for %q = %v, want ok %v", tt.yaml, err, tt.ok)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "allowTokenOutsideGoogle")) {
			t.Errorf("the error does not name the key to set: %v", err)
		}
	}
}

func TestTokenOnlyOverTLSToTheServiceHost(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	srv := httptest.NewTLSServer(fake)
	defer srv.Close()
	c, table := newClient(t, srv.URL, lro.Config{Auth: lro.AuthADC, TokenSource: staticTokens, Transport: srv.Client().Transport})
	if err := c.Cancel(context.Background(), table.Lookup("vault.googleapis.com"), "operations/x"); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+secretToken {
		t.Fatalf("requests = %+v, want one with the bearer token", reqs)
	}

	// ADC with a plain-http endpoint is refused at construction.
	table2, err := lro.ParseTable("t.yaml", []byte("services:\n  - host: vault.googleapis.com\n    endpoint: http://127.0.0.1:1\n    patterns: [\"operations/**\"]\n"), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lro.New(context.Background(), table2, lro.Config{Auth: lro.AuthADC, TokenSource: staticTokens}); err == nil {
		t.Error("New accepted an http endpoint with auth adc")
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var leaked []string
	attacker := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer attacker.Close()
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, attacker.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c, table := newClient(t, redirector.URL, lro.Config{Auth: lro.AuthADC, TokenSource: staticTokens, Transport: redirector.Client().Transport})
	err := c.Cancel(context.Background(), table.Lookup("vault.googleapis.com"), "operations/x")
	var e *lro.Error
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusTemporaryRedirect {
		t.Errorf("Cancel = %v, want the 307 as an error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leaked) != 0 {
		t.Errorf("the redirect target received %d requests", len(leaked))
	}
}

type failingTokens struct{}

func (failingTokens) Token() (*oauth2.Token, error) {
	return nil, errors.New("metadata server unreachable")
}

func TestAnswersBecomeTypedErrors(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	big := strings.Repeat("x", lro.MaxBodyBytes+1)
	scripts := map[string]lrotest.Script{
		"operations/unimpl":    {Cancel: []lrotest.Answer{lrotest.Err(lro.Unimplemented, "Method not implemented.")}},
		"operations/html404":   {Cancel: []lrotest.Answer{lrotest.HTML404()}},
		"operations/plain404":  {Cancel: []lrotest.Answer{{Status: 404, Body: []byte("404 page not found"), ContentType: "text/plain"}}},
		"operations/gethtml":   {Get: []lrotest.Answer{lrotest.HTML404()}},
		"operations/getplain":  {Get: []lrotest.Answer{{Status: 404, Body: []byte("default backend - 404"), ContentType: "text/plain"}}},
		"operations/quota":     {Cancel: []lrotest.Answer{lrotest.Exhausted(2*time.Second, "9")}},
		"operations/retryhdr":  {Cancel: []lrotest.Answer{{Status: 429, RetryAfter: "4", Body: []byte("slow down")}}},
		"operations/denied":    {Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, "no")}},
		"operations/precond":   {AlreadyDone: true},
		"operations/bigerr":    {Cancel: []lrotest.Answer{{Status: 503, Body: []byte(big)}}},
		"operations/bigok":     {Cancel: []lrotest.Answer{{Body: []byte(big)}}},
		"operations/notjson":   {Cancel: []lrotest.Answer{{Body: []byte("<html>ok</html>"), ContentType: "text/html"}}},
		"operations/reset":     {Cancel: []lrotest.Answer{{Reset: true}}},
		"operations/gettrash":  {Get: []lrotest.Answer{{Body: []byte("not json")}}},
		"operations/getbig":    {Get: []lrotest.Answer{{Body: []byte(big)}}},
		"operations/getweird":  {Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/getweird","done":"yes"}`)}}},
		"operations/getstatus": {Get: []lrotest.Answer{{Status: 400, Body: []byte(`{"error":{"code":400,"status":"NOT_A_CODE","message":"odd"}}`)}}},
		"operations/gfe400":    {Cancel: []lrotest.Answer{lrotest.FrontEndPage(400)}},
		"operations/gfe405":    {Cancel: []lrotest.Answer{lrotest.FrontEndPage(405)}},
		"operations/gfe502":    {Get: []lrotest.Answer{lrotest.FrontEndPage(502)}},
		"operations/getempty":  {Get: []lrotest.Answer{{Body: []byte{}}}},
		// JSON that is not the operation asked for: a gateway's.
		"operations/getmessage": {Get: []lrotest.Answer{{Body: []byte(`{"message":"Forbidden"}`)}}},
		"operations/getobject":  {Get: []lrotest.Answer{{Body: []byte(`{}`)}}},
		"operations/getother":   {Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/other","done":true,"response":{}}`)}}},
		// The same operation under another parent: an API names the
		// project by its number where it was asked by its ID.
		"operations/getparent": {Get: []lrotest.Answer{{Body: []byte(`{"name":"projects/123/operations/getparent","done":true,"response":{}}`)}}},
		// A cancel's answer is Empty.
		"operations/cancelmessage": {Cancel: []lrotest.Answer{{Body: []byte(`{"message":"Forbidden"}`)}}},
		"operations/cancelnobody":  {Cancel: []lrotest.Answer{{Body: []byte{}}}},
		// Damaged on the way: JSON that ends early.
		"operations/getcut":    {Get: []lrotest.Answer{{Body: []byte(`{"name":"operations/getcut","do`)}}},
		"operations/cancelcut": {Cancel: []lrotest.Answer{{Body: []byte(`{`)}}},
		"operations/errorcut":  {Cancel: []lrotest.Answer{{Status: 403, Body: []byte(`{"error":{"code":403,"message":"Quota exceeded.","status":"PERMISSION_DE`)}}},
	}
	for name, a := range lrotest.NotGoogle() {
		scripts[proxyOp(name)] = lrotest.Script{Cancel: []lrotest.Answer{a}, Get: []lrotest.Answer{a}}
	}
	for n, s := range scripts {
		fake.Set(n, s)
	}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c, table := newClient(t, srv.URL, lro.Config{Auth: lro.AuthNone, RequestTimeout: time.Minute})
	vault := table.Lookup("vault.googleapis.com")
	ctx := context.Background()

	type answerCase struct {
		name       string
		get        bool
		wantCode   lro.Code
		wantStatus int
		wantDelay  time.Duration
		wantOK     bool
		// wantMisdirected: the answer is not recognisably Google's.
		wantMisdirected bool
	}
	tests := []answerCase{
		{name: "operations/unimpl", wantCode: lro.Unimplemented, wantStatus: 501},
		{name: "operations/html404", wantCode: lro.Unimplemented, wantStatus: 404},
		// A 404 that is not recognisably Google's says nothing about the
		// method: a wrong endpoint, version or an ingress answers so.
		{name: "operations/plain404", wantCode: lro.NotFound, wantStatus: 404, wantMisdirected: true},
		{name: "operations/gethtml", get: true, wantCode: lro.Unimplemented, wantStatus: 404},
		{name: "operations/getplain", get: true, wantCode: lro.NotFound, wantStatus: 404, wantMisdirected: true},
		{name: "operations/quota", wantCode: lro.ResourceExhausted, wantStatus: 429, wantDelay: 2 * time.Second},
		// Not Google's, whatever the status: it says nothing about the
		// operation, but a 429 still asks to slow down.
		{name: "operations/retryhdr", wantCode: lro.ResourceExhausted, wantStatus: 429, wantDelay: 4 * time.Second, wantMisdirected: true},
		{name: "operations/denied", wantCode: lro.PermissionDenied, wantStatus: 403},
		{name: "operations/precond", wantCode: lro.FailedPrecondition, wantStatus: 400},
		{name: "operations/missing", wantCode: lro.NotFound, wantStatus: 404},
		// An error body too large to read cannot be recognised as Google's.
		{name: "operations/bigerr", wantCode: lro.Unavailable, wantStatus: 503, wantMisdirected: true},
		// A cancel's answer is Empty: anything else is not Google's.
		{name: "operations/bigok", wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/cancelmessage", wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/cancelnobody", wantOK: true},
		// A 2xx that is not JSON is a proxy's page, not Google's answer.
		{name: "operations/notjson", wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/reset", wantCode: lro.Transport},
		// Text under a JSON content type was sent so: a page.
		{name: "operations/gettrash", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		// JSON by its content type that begins as JSON and does not parse
		// was damaged on its way: no answer, and nobody's misdirection.
		{name: "operations/getcut", get: true, wantCode: lro.Transport},
		{name: "operations/cancelcut", wantCode: lro.Transport},
		{name: "operations/errorcut", wantCode: lro.Transport},
		{name: "operations/getbig", get: true, wantCode: lro.Unknown, wantStatus: 200},
		// JSON that is not an operation, or not the one asked for, is not
		// Google's answer to the get.
		{name: "operations/getweird", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/getmessage", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/getobject", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/getother", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/getempty", get: true, wantCode: lro.Unknown, wantStatus: 200, wantMisdirected: true},
		{name: "operations/getparent", get: true, wantOK: true},
		{name: "operations/getstatus", get: true, wantCode: lro.InvalidArgument, wantStatus: 400},
		// The Google front end's own pages are Google's answers.
		{name: "operations/gfe400", wantCode: lro.InvalidArgument, wantStatus: 400},
		{name: "operations/gfe405", wantCode: lro.Unimplemented, wantStatus: 405},
		{name: "operations/gfe502", get: true, wantCode: lro.Unavailable, wantStatus: 502},
	}
	// Answers of a proxy, a gateway or an ingress, to a cancel and to a get:
	// the code of their HTTP status (UNKNOWN for a 2xx), and misdirected.
	for name, a := range lrotest.NotGoogle() {
		code := lro.Unknown
		if a.Status != http.StatusOK {
			code = lro.CodeOf(lro.ParseError(a.Status, nil))
		}
		for _, get := range []bool{false, true} {
			tests = append(tests, answerCase{name: proxyOp(name), get: get, wantCode: code, wantStatus: a.Status, wantMisdirected: true})
		}
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s get=%v", strings.TrimPrefix(tt.name, "operations/"), tt.get), func(t *testing.T) {
			var err error
			if tt.get {
				_, err = c.Get(ctx, vault, tt.name)
			} else {
				err = c.Cancel(ctx, vault, tt.name)
			}
			if tt.wantOK {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var e *lro.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *lro.Error", err, err)
			}
			if e.Code != tt.wantCode || e.HTTPStatus != tt.wantStatus || e.RetryDelay != tt.wantDelay {
				t.Errorf("got code %v, HTTP %d, delay %v; want %v, %d, %v (%v)", e.Code, e.HTTPStatus, e.RetryDelay, tt.wantCode, tt.wantStatus, tt.wantDelay, e)
			}
			if got := lro.Misdirected(err); got != tt.wantMisdirected {
				t.Errorf("Misdirected = %v, want %v (%v)", got, tt.wantMisdirected, e)
			}
			if lro.TimedOut(err) {
				t.Errorf("TimedOut = true for an answer or a reset: %v", e)
			}
		})
	}

	// A cancelled caller context is not an API failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Cancel(cctx, vault, "operations/unimpl"); !errors.Is(err, context.Canceled) {
		t.Errorf("Cancel with a cancelled context = %v, want context.Canceled", err)
	}
}

// proxyOp is the operation that an answer of lrotest.NotGoogle answers.
func proxyOp(answer string) string {
	return "operations/proxy-" + strings.ReplaceAll(answer, " ", "-")
}

func TestListPages(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		fake.Set("enterprises/e1/devices/d1/operations/"+n, lrotest.Script{AlreadyDone: n == "c"})
	}
	fake.Set("enterprises/e1/devices/d2/operations/z", lrotest.Script{})
	c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthNone, Transport: fake.Transport()})
	amapi := table.Lookup("androidmanagement.googleapis.com")
	var names []string
	var done []string
	token := ""
	pages := 0
	for {
		page, err := c.List(context.Background(), amapi, "enterprises/e1/devices/d1/operations", lro.ListQuery{PageToken: token, PageSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, op := range page.Operations {
			names = append(names, op.Name)
			if op.Done {
				done = append(done, op.Name)
			}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if pages != 3 {
		t.Errorf("pages = %d, want 3", pages)
	}
	p := "enterprises/e1/devices/d1/operations/"
	if diff := cmp.Diff([]string{p + "a", p + "b", p + "c", p + "d", p + "e"}, names); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{p + "c"}, done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	var queries []string
	for _, r := range fake.Requests() {
		queries = append(queries, r.Method+" "+r.Path+"?"+r.Query)
	}
	wantQ := []string{
		"GET /v1/enterprises/e1/devices/d1/operations?pageSize=2",
		"GET /v1/enterprises/e1/devices/d1/operations?pageSize=2&pageToken=2",
		"GET /v1/enterprises/e1/devices/d1/operations?pageSize=2&pageToken=4",
	}
	if diff := cmp.Diff(wantQ, queries); diff != "" {
		t.Errorf("list requests (-want +got):\n%s", diff)
	}
}

type recordingObserver struct {
	mu       sync.Mutex
	started  int
	finished []string
}

func (o *recordingObserver) RequestStarted(service, method string) {
	o.mu.Lock()
	o.started++
	o.mu.Unlock()
}

func (o *recordingObserver) RequestFinished(service, method string, code lro.Code, _ time.Duration) {
	o.mu.Lock()
	o.finished = append(o.finished, service+" "+method+" "+code.String())
	o.mu.Unlock()
}

func TestObserverSeesEveryRequestOnce(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/ok", lrotest.Script{})
	fake.Set("operations/busy", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Unavailable(0)}})
	fake.Set("operations/reset", lrotest.Script{Cancel: []lrotest.Answer{{Reset: true}}})
	obs := &recordingObserver{}
	c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthNone, Transport: fake.Transport(), Observer: obs})
	vault := table.Lookup("vault.googleapis.com")
	ctx := context.Background()
	_ = c.Cancel(ctx, vault, "operations/ok")
	_, _ = c.Get(ctx, vault, "operations/ok")
	_ = c.Cancel(ctx, vault, "operations/busy")
	_ = c.Cancel(ctx, vault, "operations/reset")
	_ = c.Cancel(ctx, vault, "operations/../bad") // refused: never started
	want := []string{
		"vault.googleapis.com cancel OK",
		"vault.googleapis.com get OK",
		"vault.googleapis.com cancel UNAVAILABLE",
		"vault.googleapis.com cancel TRANSPORT",
	}
	if diff := cmp.Diff(want, obs.finished); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	if obs.started != len(want) {
		t.Errorf("started %d, finished %d", obs.started, len(want))
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		fake := lrotest.New(lrotest.Options{})
		fake.Set("operations/hang", lrotest.Script{Cancel: []lrotest.Answer{{Hang: true}}})
		fake.Set("operations/drip", lrotest.Script{Cancel: []lrotest.Answer{{Body: []byte(`{"a":"bcdefghijklmnop"}`), Drip: 2 * time.Second}}})
		fake.Set("operations/slow", lrotest.Script{Latency: 29 * time.Second})
		c, table := newClient(t, "https://fake.test", lro.Config{Auth: lro.AuthNone, Transport: fake.Transport(), RequestTimeout: 30 * time.Second})
		vault := table.Lookup("vault.googleapis.com")
		for _, name := range []string{"operations/hang", "operations/drip"} {
			start := time.Now()
			err := c.Cancel(context.Background(), vault, name)
			if lro.CodeOf(err) != lro.Transport || lro.Classify(err) != lro.Transient || !lro.TimedOut(err) {
				t.Errorf("Cancel(%s) = %v, want a transient TRANSPORT timeout", name, err)
			}
			if d := time.Since(start); d != 30*time.Second {
				t.Errorf("Cancel(%s) gave up after %v, want 30s", name, d)
			}
		}
		if err := c.Cancel(context.Background(), vault, "operations/slow"); err != nil {
			t.Errorf("Cancel(slow) = %v; 29s is within the timeout", err)
		}
	})
}
