package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo plays every API a services file enables, in its dialect, and
// its outcomes match the script.
func TestDemoPlaysTheEnabledAPIs(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte("services:\n  - host: aiplatform.googleapis.com\n  - host: sqladmin.googleapis.com\n  - host: storage.googleapis.com\n  - host: firebasehosting.googleapis.com\n"), 0o600)
	out, errb, code, err := runCLI(t, nil, "demo", "--count=60", "--latency=1ms", "--config="+config)
	if code != 0 {
		t.Fatalf("demo: exit %d: %v\n%s\n%s", code, err, out, errb)
	}
	rows := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 4 {
			rows[f[0]+" "+f[1]] = true
		}
	}
	// Firebase Hosting cannot read its operations: its cancels end unverified.
	for _, want := range []string{"aiplatform.googleapis.com cancelled", "sqladmin.googleapis.com cancelled",
		"storage.googleapis.com cancelled", "firebasehosting.googleapis.com unverified", "vault.googleapis.com cancelled"} {
		if !rows[want] {
			t.Errorf("demo table lacks %q:\n%s", want, out)
		}
	}
}
