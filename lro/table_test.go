package lro

import (
	"errors"
	"testing"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	extra, err := ParseTable("test.yaml", []byte(`
services:
  - host: example.googleapis.com
    patterns: ["operations/**", "projects/*/operations/*"]
`), FileOptions{RequireHTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, name string
		wantHost   string // "" means invalid
	}{
		{"", "operations/abc", "vault.googleapis.com"}, // several match: first in order
		{"", "operations/a/b", "vault.googleapis.com"},
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
