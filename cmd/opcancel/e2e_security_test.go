package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

const knownToken = "ya29.known-test-token-7f3a9c"

// credentials writes a service-account key file whose token endpoint is a
// local server handing out knownToken (or failing, when fail is set), and
// returns the environment for ADC.
type credentials struct {
	env     []string
	fetches atomic.Int64
	fail    atomic.Bool
	// refuseDelegation refuses the assertions that name a subject, as
	// Google's token endpoint does where domain-wide delegation is not
	// granted.
	refuseDelegation atomic.Bool
	// tokenURL is the token endpoint, for other credential files.
	tokenURL string
}

func newCredentials(t *testing.T, certPEM []byte) *credentials {
	t.Helper()
	c := &credentials{}
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fetches.Add(1)
		if c.fail.Load() {
			http.Error(w, `{"error":"internal_failure"}`, http.StatusInternalServerError)
			return
		}
		if c.refuseDelegation.Load() && assertsSubject(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, knownToken)
	}))
	t.Cleanup(tokens.Close)
	c.tokenURL = tokens.URL + "/token"
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "sec-proj", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "opcancel@sec-proj.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": tokens.URL + "/token",
	})
	dir := t.TempDir()
	saFile, caFile := filepath.Join(dir, "sa.json"), filepath.Join(dir, "ca.pem")
	os.WriteFile(saFile, sa, 0o600)
	os.WriteFile(caFile, certPEM, 0o600)
	c.env = []string{"GOOGLE_APPLICATION_CREDENTIALS=" + saFile, "SSL_CERT_FILE=" + caFile, "HOME=" + dir}
	return c
}

// assertsSubject reports whether the JWT assertion of a token request
// names a subject (domain-wide delegation).
func assertsSubject(r *http.Request) bool {
	parts := strings.Split(r.PostFormValue("assertion"), ".")
	if len(parts) != 3 {
		return false
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Sub string `json:"sub"`
	}
	return json.Unmarshal(claims, &c) == nil && c.Sub != ""
}

// attacker stands in for a host a message might try to send the token to.
type attacker struct {
	addr  string
	conns atomic.Int64
}

func newAttacker(t *testing.T) *attacker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &attacker{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return a
}

// hostileMessages are messages that must all end invalid without any
// request anywhere.
func hostileMessages(attack string) []message {
	deep := strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)
	return []message{
		{data: "//" + attack + "/operations/x"},
		{data: "//attacker.example.com/operations/x"},
		{data: "//127.0.0.1/operations/x"},
		{data: "//[::1]:443/operations/x"},
		{data: "//user:pass@vault.googleapis.com/operations/x"},
		{data: "//vault.googleapis.com:443/operations/x"},
		{data: "//169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token"},
		{data: "operations/x", attrs: map[string]string{"service": attack}},
		{data: `{"name":"operations/x","service":"localhost:` + strings.Split(attack, ":")[1] + `"}`},
		{data: `{"name":"//` + attack + `/operations/x"}`},
		{data: "operations/../../v1/secrets"},
		{data: "operations/%2e%2e/x"},
		{data: "operations/a%2Fb"},
		{data: "operations/x?alt=media"},
		{data: "operations/x#frag"},
		{data: "operations/" + strings.Repeat("a", 1100)},
		{data: "operations/" + strings.Repeat("b", 4096)},
		{data: "operations/\xff\xfe"},
		{data: `{"name":"operations/x","pad":` + deep + `}`},
		{data: `{"name":null}`},
		{data: `{"name":["operations/x"]}`},
		{data: `{"name":"operations/x","service":42}`},
		{data: `{"name":"operations/x","reason":{"x":1}}`},
		{data: "null"},
		{data: "\x00\x00\x00"},
		{data: "", attrs: map[string]string{"reason": "no data at all"}},
		{data: "operations/x\noperations/y"},
	}
}

// TestCredentialsAndHostileInput runs the real binary with ADC (a key file
// whose token endpoint hands out a known token) against TLS fakes, with
// ordinary and hostile messages: the token goes only to the configured hosts
// over TLS, never to the attacker's listener, and appears in no log line and
// no result event; every hostile message ends invalid and the worker stays up.
func TestCredentialsAndHostileInput(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	vault, amapi := lrotest.New(lrotest.Options{}), lrotest.New(lrotest.Options{})
	vs, as := httptest.NewTLSServer(vault), httptest.NewTLSServer(amapi)
	t.Cleanup(vs.Close)
	t.Cleanup(as.Close)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vs.Certificate().Raw})
	creds := newCredentials(t, certPEM)
	atk := newAttacker(t)
	config := filepath.Join(t.TempDir(), "services.yaml")
	fakes := lrotest.Endpoints{vaultHost: vs.URL, amapiHost: as.URL}
	os.WriteFile(config, []byte(lrotest.ServicesYAML(fakes, lrotest.TokensToFakes(fakes, nil))), 0o600)

	secret := "reset-password-" + knownToken[5:12]
	vault.Set("operations/ok", lrotest.Script{Metadata: json.RawMessage(`{"password":"` + secret + `"}`)})
	vault.Set("operations/done", lrotest.Script{Final: lrotest.Completed, Response: json.RawMessage(`{"password":"` + secret + `"}`)})
	vault.Set("operations/unimpl", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.Unimplemented, "no")}})
	vault.Set("operations/denied", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, "no")}})
	amapi.Set(devOps+"wipe", lrotest.Script{})
	good := []message{{data: "operations/ok"}, {data: "operations/done"}, {data: "operations/unimpl"}, {data: "operations/denied"},
		{data: "operations/missing"}, {data: "//" + amapiHost + "/" + devOps + "wipe"}}
	hostile := hostileMessages(atk.addr)

	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	env := append([]string{"PUBSUB_EMULATOR_HOST=" + e.Host}, creds.env...)
	p := startBinary(t, env, append([]string{"--auth=adc", "--log-level=debug", "--subscription=" + ps.sub, "--results-topic=" + ps.results,
		"--config=" + config}, e2eLimits.args()...)...)
	publish(t, e, ps.topic, append(good, hostile...)...)
	var ev eventsByName
	waitFor(t, "every outcome", e2eLimits.job(), func() bool {
		ev.pull(t, e, ps.resultsSub)
		return ev.total >= len(good)+len(hostile)
	})
	m := scrape(t, p.admin)
	if got := value(m, "opcancel_jobs_total", map[string]string{"outcome": "invalid"}); got != float64(len(hostile)) {
		t.Errorf("invalid = %v, want %d (every hostile message)", got, len(hostile))
	}
	if got := value(m, "opcancel_jobs_total", map[string]string{"outcome": "cancelled"}); got != 2 {
		t.Errorf("cancelled = %v, want 2", got)
	}
	if atk.conns.Load() != 0 {
		t.Errorf("the attacker's listener received %d connections", atk.conns.Load())
	}
	checkTokenOnlyToTheAPIs(t, vault, amapi)
	if creds.fetches.Load() == 0 {
		t.Error("no token was fetched")
	}
	checkNoLeak(t, p.logs.String(), &ev, knownToken, secret)
	select {
	case err := <-p.done:
		t.Fatalf("the worker exited: %v", err)
	default:
	}
	if status(p.admin, "/healthz") != 200 {
		t.Error("the worker is not healthy after the hostile messages")
	}
}

// checkTokenOnlyToTheAPIs: every request the fakes got carries the token,
// and none is one a hostile message asked for.
func checkTokenOnlyToTheAPIs(t *testing.T, fakes ...*lrotest.Server) {
	t.Helper()
	for _, f := range fakes {
		for _, r := range f.Requests() {
			if r.Header.Get("Authorization") != "Bearer "+knownToken {
				t.Errorf("%s %s without the token", r.Method, r.Path)
			}
			if r.Kind == "unrouted" || strings.Contains(r.Path, "..") || strings.Contains(r.Path, "secrets") {
				t.Errorf("unexpected request %s %s", r.Method, r.Path)
			}
		}
	}
}

// checkNoLeak: none of leaks is in the logs or in a result event.
func checkNoLeak(t *testing.T, logs string, ev *eventsByName, leaks ...string) {
	t.Helper()
	for _, leak := range leaks {
		if strings.Contains(logs, leak) {
			t.Errorf("%q appears in the logs", leak)
		}
		for _, evs := range ev.byName {
			for _, f := range evs {
				if b, _ := json.Marshal(f); strings.Contains(string(b), leak) {
					t.Errorf("%q appears in a result event: %s", leak, b)
				}
			}
		}
	}
}

// TestCredentialFailuresAreNackedNeverAcked: a token endpoint that fails,
// and an API that answers UNAUTHENTICATED, both end retry_exhausted (nacked):
// no outcome is acked and no result event published.
func TestCredentialFailuresAreNackedNeverAcked(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	var mu sync.Mutex
	unauth := lrotest.Options{Default: func(string) *lrotest.Script {
		return &lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials.")}}
	}}
	vault := lrotest.New(unauth)
	vs := httptest.NewTLSServer(vault)
	t.Cleanup(vs.Close)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vs.Certificate().Raw})
	config := filepath.Join(t.TempDir(), "services.yaml")
	fakes := lrotest.Endpoints{vaultHost: vs.URL}
	os.WriteFile(config, []byte(lrotest.ServicesYAML(fakes, lrotest.TokensToFakes(fakes, nil))), 0o600)

	for _, tc := range []struct {
		name      string
		failToken bool
		wantCode  string
	}{
		{"token endpoint failing", true, "UNAUTHENTICATED"},
		{"API answering UNAUTHENTICATED", false, "UNAUTHENTICATED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			defer mu.Unlock()
			creds := newCredentials(t, certPEM)
			creds.fail.Store(tc.failToken)
			ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
			env := append([]string{"PUBSUB_EMULATOR_HOST=" + e.Host}, creds.env...)
			p := startBinary(t, env, append([]string{"--auth=adc", "--subscription=" + ps.sub, "--results-topic=" + ps.results,
				"--config=" + config}, e2eLimits.args()...)...)
			publish(t, e, ps.topic, message{data: "operations/a"}, message{data: "operations/b"})
			// Each message is nacked twice, the second time after its redelivery.
			waitFor(t, "retry_exhausted", 2*e2eLimits.job(), func() bool {
				return value(scrape(t, p.admin), "opcancel_jobs_total", map[string]string{"outcome": "retry_exhausted"}) >= 4
			})
			m := scrape(t, p.admin)
			for _, s := range m["opcancel_jobs_total"] {
				if s.Value > 0 && s.Metric["outcome"] != "retry_exhausted" {
					t.Errorf("outcome %s counted %v: a credentials failure must never ack", s.Metric["outcome"], s.Value)
				}
			}
			if v := value(m, "opcancel_retries_total", map[string]string{"code": tc.wantCode}); v < 1 {
				t.Errorf("retries{code=%s} = %v", tc.wantCode, v)
			}
			var ev eventsByName
			ev.pull(t, e, ps.resultsSub)
			if ev.total != 0 {
				t.Errorf("%d result events for nacked deliveries", ev.total)
			}
			if strings.Contains(p.logs.String(), knownToken) {
				t.Error("the token appears in the logs")
			}
		})
	}
}
