package lro

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// summary is what a user of a service notices: where its requests go and
// with which token.
type summary struct {
	Endpoint, Version, Dialect string
	Patterns, Scopes           []string
	Prefix                     string
	Regional                   int
	Subject                    string
	Rate                       float64
	VerifyTimeout              time.Duration
}

func summarize(s *Service) summary {
	return summary{
		Endpoint: s.Endpoint.String(), Version: s.Version, Dialect: s.Dialect.String(),
		Patterns: s.Patterns(), Scopes: s.Scopes, Prefix: s.Routes[0].Prefix, Regional: len(s.Regional),
		Subject: s.Subject, Rate: s.Rate, VerifyTimeout: s.VerifyTimeout,
	}
}

func TestSeedsAreTheCatalogs(t *testing.T) {
	t.Parallel()
	want := []summary{
		{Endpoint: "https://vault.googleapis.com", Version: "v1", Dialect: "aip", Prefix: "v1/",
			Patterns: []string{"operations/**"}, Scopes: []string{"https://www.googleapis.com/auth/ediscovery"}},
		{Endpoint: "https://androidmanagement.googleapis.com", Version: "v1", Dialect: "aip", Prefix: "v1/",
			Patterns: []string{"enterprises/*/devices/*/operations/*"}, Scopes: []string{"https://www.googleapis.com/auth/androidmanagement"}},
	}
	var got []summary
	for _, s := range Builtin() {
		got = append(got, summarize(s))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("built-ins (-want +got):\n%s", diff)
	}
}

func TestEntryOfAKnownHostInheritsWhatItDoesNotSet(t *testing.T) {
	t.Parallel()
	table, err := ParseTable("s.yaml", []byte(`
services:
  - host: vault.googleapis.com
    endpoint: http://127.0.0.1:9999
    rate: 5
  - host: androidmanagement.googleapis.com
    subject: admin@example.com
    verifyTimeout: 90s
  - host: aiplatform.googleapis.com
  - host: sqladmin.googleapis.com
    version: v1beta4
    scopes: ["https://www.googleapis.com/auth/sqlservice.admin"]
  - host: storage.googleapis.com
    endpoint: http://127.0.0.1:9998
    patterns: ["b/*/operations/*"]
  - host: storagetransfer.googleapis.com
    patterns: ["transferOperations/*"]
    allowNonOperationPatterns: true
  - host: documentai.googleapis.com
    version: v2
    patterns: ["projects/*/locations/*/operations/*"]
`), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cp := []string{cloudPlatformScope}
	want := map[string]summary{
		"vault.googleapis.com": {Endpoint: "http://127.0.0.1:9999", Version: "v1", Dialect: "aip", Prefix: "v1/", Rate: 5,
			Patterns: []string{"operations/**"}, Scopes: []string{"https://www.googleapis.com/auth/ediscovery"}},
		"androidmanagement.googleapis.com": {Endpoint: "https://androidmanagement.googleapis.com", Version: "v1", Dialect: "aip", Prefix: "v1/",
			Patterns: []string{"enterprises/*/devices/*/operations/*"}, Scopes: []string{"https://www.googleapis.com/auth/androidmanagement"},
			Subject: "admin@example.com", VerifyTimeout: 90 * time.Second},
		"sqladmin.googleapis.com": {Endpoint: "https://sqladmin.googleapis.com", Version: "v1beta4", Dialect: "cloudsql", Prefix: "sql/v1beta4/",
			Patterns: []string{"projects/*/operations/*"}, Scopes: []string{"https://www.googleapis.com/auth/sqlservice.admin"}, Regional: 46},
		"storage.googleapis.com": {Endpoint: "http://127.0.0.1:9998", Version: "v1", Dialect: "storage", Prefix: "storage/v1/",
			Patterns: []string{"b/*/operations/*"}, Scopes: cp},
		"storagetransfer.googleapis.com": {Endpoint: "https://storagetransfer.googleapis.com", Version: "v1", Dialect: "aip", Prefix: "v1/",
			Patterns: []string{"transferOperations/*"}, Scopes: cp},
		// A version newer than the catalog's, with its patterns.
		"documentai.googleapis.com": {Endpoint: "https://documentai.googleapis.com", Version: "v2", Dialect: "aip", Prefix: "v2/",
			Patterns: []string{"projects/*/locations/*/operations/*"}, Scopes: cp, Regional: 8},
	}
	for host, w := range want {
		if diff := cmp.Diff(w, summarize(table.Lookup(host))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", host, diff)
		}
	}
	ai := table.Lookup("aiplatform.googleapis.com")
	if ai.Version != "v1" || ai.Regional["us-central1"].String() != "https://us-central1-aiplatform.googleapis.com" || len(ai.Routes) < 50 {
		t.Errorf("aiplatform enabled by its host alone: version %s, us-central1 %v, %d routes", ai.Version, ai.Regional["us-central1"], len(ai.Routes))
	}
	if diff := cmp.Diff([]string{"vault.googleapis.com", "androidmanagement.googleapis.com", "aiplatform.googleapis.com",
		"sqladmin.googleapis.com", "storage.googleapis.com", "storagetransfer.googleapis.com", "documentai.googleapis.com"}, table.Hosts()); diff != "" {
		t.Errorf("routing order (-want +got):\n%s", diff)
	}
}

func TestTokenScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		accepted, want []string
	}{
		{nil, []string{cloudPlatformScope}},
		{[]string{"https://www.googleapis.com/auth/aiplatform", cloudPlatformScope}, []string{cloudPlatformScope}},
		{[]string{"https://www.googleapis.com/auth/ediscovery"}, []string{"https://www.googleapis.com/auth/ediscovery"}},
		{[]string{"https://a/1", "https://a/2"}, []string{"https://a/1"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tokenScopes(tt.accepted)); diff != "" {
			t.Errorf("tokenScopes(%v) (-want +got):\n%s", tt.accepted, diff)
		}
	}
}
