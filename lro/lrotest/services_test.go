package lrotest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
)

// TestServicesYAMLPointsTheBuiltinsAtFakes: the file parses, routes each
// named built-in to its URL with the built-in's patterns and scopes, applies
// the extra keys to their service only, and leaves the other built-ins alone.
func TestServicesYAMLPointsTheBuiltinsAtFakes(t *testing.T) {
	t.Parallel()
	const vault, amapi = "vault.googleapis.com", "androidmanagement.googleapis.com"
	tests := []struct {
		name      string
		endpoints Endpoints
		extra     map[string]string
		want      map[string]string // host → endpoint
	}{
		{"both at one fake", AllAt("http://127.0.0.1:1"), nil,
			map[string]string{vault: "http://127.0.0.1:1", amapi: "http://127.0.0.1:1"}},
		{"one fake each", Endpoints{vault: "https://vault.fake", amapi: "https://amapi.fake"}, map[string]string{vault: "rate: 5\nverifyTimeout: 3s"},
			map[string]string{vault: "https://vault.fake", amapi: "https://amapi.fake"}},
		{"vault only", Endpoints{vault: "https://127.0.0.1:2"}, nil,
			map[string]string{vault: "https://127.0.0.1:2", amapi: "https://androidmanagement.googleapis.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			yaml := ServicesYAML(tt.endpoints, tt.extra)
			table, err := lro.ParseTable("test.yaml", []byte(yaml), lro.FileOptions{})
			if err != nil {
				t.Fatalf("%v\n%s", err, yaml)
			}
			got := map[string]string{}
			for _, s := range table.Services() {
				got[s.Host] = s.Endpoint.String()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
			for _, b := range lro.Builtin() {
				s := table.Lookup(b.Host)
				if diff := cmp.Diff(b.Scopes, s.Scopes); diff != "" {
					t.Errorf("%s scopes (-builtin +file):\n%s", b.Host, diff)
				}
				if s.Version != b.Version || !slices.Equal(s.Patterns(), b.Patterns()) {
					t.Errorf("%s: version %s patterns %v, want the built-in's %s %v", b.Host, s.Version, s.Patterns(), b.Version, b.Patterns())
				}
			}
			v := table.Lookup(vault)
			wantRate, wantVerify := 0.0, time.Duration(0)
			if tt.extra != nil {
				wantRate, wantVerify = 5, 3*time.Second
			}
			if v.Rate != wantRate || v.VerifyTimeout != wantVerify {
				t.Errorf("vault rate %v verifyTimeout %v, want %v %v", v.Rate, v.VerifyTimeout, wantRate, wantVerify)
			}
			if a := table.Lookup(amapi); a.Rate != 0 || a.VerifyTimeout != 0 {
				t.Errorf("extra keys leaked to %s: rate %v verifyTimeout %v", amapi, a.Rate, a.VerifyTimeout)
			}
		})
	}
}
