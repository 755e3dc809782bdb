package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"opcancel/lro/lrotest"
)

// fakeAPIs serves the two built-in services from two separate fake hosts on
// loopback sockets, and writes a services file pointing at them.
type fakeAPIs struct {
	vault, amapi *lrotest.Server
	config       string
}

func newFakeAPIs(t *testing.T, vaultOpts, amapiOpts lrotest.Options, vaultExtra string) *fakeAPIs {
	t.Helper()
	f := &fakeAPIs{vault: lrotest.New(vaultOpts), amapi: lrotest.New(amapiOpts)}
	vs, as := httptest.NewServer(f.vault), httptest.NewServer(f.amapi)
	t.Cleanup(vs.Close)
	t.Cleanup(as.Close)
	f.config = filepath.Join(t.TempDir(), "services.yaml")
	yaml := lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: vs.URL, amapiHost: as.URL}, map[string]string{vaultHost: vaultExtra})
	if err := os.WriteFile(f.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
