package lro

import (
	"errors"
	"strings"
	"testing"

	"opcancel/request"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	extra, err := ParseTable("test.yaml", []byte(`
services:
  - host: example.googleapis.com
    patterns: ["operations/**", "projects/*/operations/*"]
`), FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, name string
		wantHost   string // "" means invalid
	}{
		{"", "operations/abc", "vault.googleapis.com"}, // vault's and example's patterns: the seed keeps it
		{"", "operations/a/b", "vault.googleapis.com"}, // the same
		{"vault.googleapis.com", "operations/a/b", "vault.googleapis.com"},
		{"", "enterprises/e/devices/d/operations/o", "androidmanagement.googleapis.com"},
		{"", "projects/p/operations/o", "example.googleapis.com"},
		{"example.googleapis.com", "operations/abc", "example.googleapis.com"},
		{"androidmanagement.googleapis.com", "enterprises/e/devices/d/operations/o", "androidmanagement.googleapis.com"},
		{"", "enterprises/e/devices/d", ""},                                  // matches nothing
		{"", "nothing/matches", ""},                                          // matches nothing
		{"vault.googleapis.com", "enterprises/e/devices/d/operations/o", ""}, // wrong service
		{"androidmanagement.googleapis.com", "operations/x", ""},
		{"evil.example.com", "operations/x", ""},
		{"127.0.0.1:8080", "operations/x", ""},
		{"vault.googleapis.com:443", "operations/x", ""},
		{"user@vault.googleapis.com", "operations/x", ""},
		{"VAULT.GOOGLEAPIS.COM", "operations/x", ""},
		{"vault.googleapis.com", "operations/../x", ""},
		{"", "operations/%2e%2e/x", ""},
	}
	for _, tt := range tests {
		svc, err := extra.Route(tt.host, tt.name)
		if tt.wantHost == "" {
			if err == nil {
				t.Errorf("Route(%q, %q) = %s, want invalid", tt.host, tt.name, svc.Host)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("Route(%q, %q) error %v does not wrap ErrInvalid", tt.host, tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Route(%q, %q) = %v, want %s", tt.host, tt.name, err, tt.wantHost)
			continue
		}
		if svc.Host != tt.wantHost {
			t.Errorf("Route(%q, %q) = %s, want %s", tt.host, tt.name, svc.Host, tt.wantHost)
		}
	}
}

func TestRouteMessages(t *testing.T) {
	t.Parallel()
	table, err := ParseTable("test.yaml", []byte(`
services:
  - host: aiplatform.googleapis.com
  - host: documentai.googleapis.com
`), FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, name, want string
	}{
		{"", "projects/p/locations/us/operations/1",
			`invalid: name "projects/p/locations/us/operations/1" matches the patterns of 2 enabled services (aiplatform.googleapis.com, documentai.googleapis.com); say which: //host/name, or the service field or attribute`},
		{"sqladmin.googleapis.com", "projects/p/operations/1",
			`invalid: service "sqladmin.googleapis.com" is known but not enabled; the services file line "- host: sqladmin.googleapis.com" enables it`},
		{"evil.example.com", "operations/1",
			`invalid: service "evil.example.com" is not configured (enabled: vault.googleapis.com, androidmanagement.googleapis.com, aiplatform.googleapis.com, documentai.googleapis.com)`},
		{"", "b/bucket/operations/1",
			`invalid: name "b/bucket/operations/1" matches no enabled service; it matches the patterns of storage.googleapis.com: enable it in the services file ("- host: storage.googleapis.com")`},
		{"", "projects/p/zones/z/operations/1",
			`invalid: name "projects/p/zones/z/operations/1" matches no enabled service; it matches the patterns of container.googleapis.com: enable it in the services file ("- host: container.googleapis.com")`},
		{"", "projects/p/operations/1",
			`invalid: name "projects/p/operations/1" matches no enabled service; it matches the patterns of 8 known APIs (datalabeling.googleapis.com, datastore.googleapis.com, dialogflow.googleapis.com, …): enable one in the services file and name it (//host/name)`},
		{"aiplatform.googleapis.com", "projects/p/locations/mars-north1/operations/1",
			`invalid: location "mars-north1" of name "projects/p/locations/mars-north1/operations/1" has no aiplatform.googleapis.com endpoint: the table has 48 locations (africa-south1, asia-east1, asia-east2, asia-northeast1, …) and "global" (an endpoint in the services file takes every request)`},
	}
	for _, tt := range tests {
		_, err := table.Route(tt.host, tt.name)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Route(%q, %q) error\n got: %v\nwant: %s", tt.host, tt.name, err, tt.want)
		}
	}
	// Vertex AI's operations/* overlaps Vault's operations/**: Vault keeps
	// the bare names it has always had.
	if svc, err := table.Route("", "operations/abc"); err != nil || svc.Host != "vault.googleapis.com" {
		t.Errorf("with aiplatform enabled: Route(operations/abc) = %v, %v; want vault.googleapis.com", svc, err)
	}
	// The built-ins alone keep routing bare names.
	for name, want := range map[string]string{
		"operations/abc":                       "vault.googleapis.com",
		"enterprises/e/devices/d/operations/o": "androidmanagement.googleapis.com",
	} {
		if svc, err := NewTable(nil).Route("", name); err != nil || svc.Host != want {
			t.Errorf("built-ins: Route(%q) = %v, %v; want %s", name, svc, err, want)
		}
	}
}

// FuzzValidateName checks that Route accepts no name the name rules reject,
// and that every name they accept is safe in a URL path as is.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"operations/x", "operations/../x", "a//b", "enterprises/e/devices/d/operations/o", "%2F", "\xff", "operations/a?b"} {
		f.Add(s)
	}
	table := NewTable(nil)
	f.Fuzz(func(t *testing.T, name string) {
		err := request.ValidateName(name)
		if err != nil {
			if _, rerr := table.Route("", name); rerr == nil {
				t.Fatalf("Route accepted %q that ValidateName rejects", name)
			}
			return
		}
		// Everything accepted is safe to put in a URL path as is.
		if len(name) > request.MaxNameBytes {
			t.Fatalf("accepted %d bytes", len(name))
		}
		for _, seg := range strings.Split(name, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted segment %q in %q", seg, name)
			}
			if strings.ContainsAny(seg, "%?#\\ ") {
				t.Fatalf("accepted %q", name)
			}
		}
		for i := 0; i < len(name); i++ {
			if name[i] < 0x21 || name[i] > 0x7e {
				t.Fatalf("accepted byte %#x in %q", name[i], name)
			}
		}
	})
}
