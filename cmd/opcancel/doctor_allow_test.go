package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestDoctorProbesInsideTheAllowList: with allow lists, the doctor's
// operations.get names an operation inside each service's list, so the
// checks pass as without one and no request names anything else; where a
// list admits no name the doctor may make up (a literal operation ID
// could be a real operation), it sends nothing and says why, for the
// token and the endpoint.
func TestDoctorProbesInsideTheAllowList(t *testing.T) {
	t.Parallel()
	t.Run("inside", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		w.serviceExtra = map[string]string{
			vaultHost: `allow: ["operations/tenant-a/**"]`,
			amapiHost: `allow: ["enterprises/LC01234/**"]`,
		}
		r := w.run(t, nil)
		for _, name := range []string{"token " + vaultHost, "endpoint " + vaultHost, "token " + amapiHost, "endpoint " + amapiHost} {
			if c := r.check(t, name); c.Status != checkOK {
				t.Errorf("check %s: %s, %q; want ok", name, c.Status, c.Detail)
			}
		}
		if r.code != 0 {
			t.Errorf("exit %d, stderr %q; want 0", r.code, r.stderr)
		}
		for _, srv := range []struct {
			requests []string
			prefix   string
		}{{requestNames(w.vault.Requests()), "operations/tenant-a/"}, {requestNames(w.amapi.Requests()), "enterprises/LC01234/devices/"}} {
			if len(srv.requests) == 0 {
				t.Errorf("no probe under %s", srv.prefix)
			}
			for _, name := range srv.requests {
				if !strings.HasPrefix(name, srv.prefix) {
					t.Errorf("the doctor probed %q, outside the allow list %s**", name, srv.prefix)
				}
			}
		}
	})
	t.Run("no name to make up", func(t *testing.T) {
		t.Parallel()
		w := newDoctorWorld(t)
		w.serviceExtra = map[string]string{vaultHost: `allow: ["operations/op-123", "operations/tenant-a/op-456"]`}
		r := w.run(t, nil)
		for _, name := range []string{"token " + vaultHost, "endpoint " + vaultHost} {
			if c := r.check(t, name); c.Status != checkSkip || !strings.Contains(c.Detail, "allow list") {
				t.Errorf("check %s: %s, %q; want skip, naming the allow list", name, c.Status, c.Detail)
			}
		}
		if got := requestNames(w.vault.Requests()); len(got) != 0 {
			t.Errorf("the doctor sent %q; want nothing: every name the allow list admits may be a real operation", got)
		}
		if r.code != 0 {
			t.Errorf("exit %d, stderr %q; want 0", r.code, r.stderr)
		}
	})
}

// requestNames are the names the requests name.
func requestNames(reqs []lrotest.Request) []string {
	names := make([]string, len(reqs))
	for i, r := range reqs {
		names[i] = r.Name
	}
	return names
}

// TestDoctorProbeRefusedBeforeSent: a probe that ends before it is sent
// (here the doctor interrupted) is no token check and a failed endpoint
// check naming why, not a crash.
func TestDoctorProbeRefusedBeforeSent(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	endpoints := lrotest.AllAt("https://fake.test")
	table, err := lro.ParseTable("services.yaml", []byte(lrotest.ServicesYAML(endpoints, lrotest.TokensToFakes(endpoints, nil))), lro.FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	tokens := func(context.Context, []string, string) (oauth2.TokenSource, error) {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"}), nil
	}
	client, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthADC, TokenSource: tokens, Transport: fake.Transport()})
	if err != nil {
		t.Fatal(err)
	}
	d := &doctor{cmd: &doctorCmd{workerTarget: workerTarget{Auth: lro.AuthADC, RequestTimeout: time.Second}}, id: &identity{kind: "service_account"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got := d.probe(ctx, client, table.Lookup(vaultHost))
	if len(got) != 2 || got[0].Status != checkSkip || got[1].Status != checkFail || !strings.Contains(got[1].Detail, "context canceled") {
		t.Errorf("probe = %+v; want the token skipped and the endpoint failed, saying why", got)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}
