package lro

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseTableErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		adc  bool
		want string
	}{
		{
			name: "unknown key",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"operations/*\"]\n    verifyTimout: 5m\n",
			want: `services file s.yaml: line 4: unknown key "verifyTimout"`,
		},
		{
			name: "unknown top-level key",
			yaml: "service:\n  - host: a.googleapis.com\n",
			want: `services file s.yaml: line 1: unknown key "service"`,
		},
		{
			name: "bad duration",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"operations/*\"]\n    verifyTimeout: 5 minutes\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): verifyTimeout: "5 minutes" is not a duration like "90s" or "5m"`,
		},
		{
			name: "negative duration",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"operations/*\"]\n    verifyTimeout: -1s\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): verifyTimeout: "-1s" must be positive`,
		},
		{
			name: "invalid template",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"operations/*\", \"operations/{op=**}\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): patterns[1]: invalid: template "operations/{op=**}": segment "{op=**}" has '{'; only literal segments, "*" and "**" are allowed`,
		},
		{
			name: "no patterns",
			yaml: "services:\n  - host: a.googleapis.com\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): patterns: at least one pattern is required: a.googleapis.com is not an API of the catalog`,
		},
		{
			name: "http endpoint with adc",
			adc:  true,
			yaml: "services:\n  - host: a.googleapis.com\n    endpoint: http://127.0.0.1:8080\n    patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): endpoint: "http://127.0.0.1:8080" is plain http, but auth adc sends a bearer token, which is only ever sent over https (use auth none for emulators and fakes)`,
		},
		{
			name: "endpoint with path",
			yaml: "services:\n  - host: a.googleapis.com\n    endpoint: https://a.googleapis.com/v1\n    patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): endpoint: "https://a.googleapis.com/v1" must not have a path; the version and name are appended`,
		},
		{
			name: "endpoint with user info",
			yaml: "services:\n  - host: a.googleapis.com\n    endpoint: https://u:p@a.googleapis.com\n    patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): endpoint: "https://u:p@a.googleapis.com" must not contain user info`,
		},
		{
			name: "endpoint scheme",
			yaml: "services:\n  - host: a.googleapis.com\n    endpoint: ftp://a\n    patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): endpoint: "ftp://a" must be an https:// URL`,
		},
		{
			name: "host with port",
			yaml: "services:\n  - host: a.googleapis.com:443\n    patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com:443"): host: "a.googleapis.com:443" is not a DNS name (no ports, paths or user info)`,
		},
		{
			name: "missing host",
			yaml: "services:\n  - patterns: [\"operations/*\"]\n",
			want: `services file s.yaml: services[0]: host: required`,
		},
		{
			name: "duplicate host",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"x/operations/*\"]\n  - host: a.googleapis.com\n    patterns: [\"y/operations/*\"]\n",
			want: `services file s.yaml: services[1] (host "a.googleapis.com"): host: "a.googleapis.com" is already defined by services[0]`,
		},
		{
			name: "negative rate",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"x/operations/*\"]\n    rate: -5\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): rate: -5 must be 0 (unlimited) or at least 0.001 requests per second`,
		},
		{
			name: "rate of the wrong type",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"x/operations/*\"]\n    rate: fast\n",
			want: `services file s.yaml: line 4: "fast" is not a number`,
		},
		{
			name: "maxConcurrency below one",
			yaml: "services:\n  - host: vault.googleapis.com\n    maxConcurrency: 0\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): maxConcurrency: 0 must be a whole number of at least 1 (this service's requests in flight at once)`,
		},
		{
			name: "maxConcurrency of the wrong type",
			yaml: "services:\n  - host: vault.googleapis.com\n    maxConcurrency: 2.5\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): maxConcurrency: 2.5 must be a whole number of at least 1 (this service's requests in flight at once)`,
		},
		{
			name: "bad version",
			yaml: "services:\n  - host: a.googleapis.com\n    version: v1/../v2\n    patterns: [\"x/operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): version: "v1/../v2" is not a single path segment`,
		},
		{
			name: "bad scope",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"x/operations/*\"]\n    scopes: [ediscovery]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): scopes[0]: "ediscovery" is not an https scope URL`,
		},
		{
			name: "pattern of any name",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"**\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): patterns[0]: "**" begins with "**"; a template begins with a literal segment ("operations", "projects", …)`,
		},
		{
			// A publisher would choose any path prefix under the version.
			name: "pattern beginning with **",
			yaml: "services:\n  - host: a.googleapis.com\n    patterns: [\"**/operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): patterns[0]: "**/operations/*" begins with "**"; a template begins with a literal segment ("operations", "projects", …)`,
		},
		{
			name: "pattern beginning with *, even of another shape",
			yaml: "services:\n  - host: a.googleapis.com\n    allowNonOperationPatterns: true\n    patterns: [\"*/x/operations/*\"]\n",
			want: `services file s.yaml: services[0] (host "a.googleapis.com"): patterns[0]: "*/x/operations/*" begins with "*"; a template begins with a literal segment ("operations", "projects", …)`,
		},
		{
			name: "builtins off and nothing else",
			yaml: "builtins: false\nservices: []\n",
			want: `services file s.yaml: builtins: false and no services: nothing would be enabled; list the services to enable`,
		},
		{
			name: "builtins not a boolean",
			yaml: "builtins: no-thanks\nservices:\n  - host: aiplatform.googleapis.com\n",
			want: `services file s.yaml: line 1: "no-thanks" is not true or false`,
		},
		{
			name: "empty allow list",
			yaml: "services:\n  - host: vault.googleapis.com\n    allow: []\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): allow: an empty list would forbid every name; leave the key out to allow them all`,
		},
		{
			name: "allow list of another API's names",
			yaml: "services:\n  - host: androidmanagement.googleapis.com\n    allow: [\"enterprises/LC01234/**\", \"enterprise/LC01234/**\"]\n",
			want: `services file s.yaml: services[0] (host "androidmanagement.googleapis.com"): allow[1]: "enterprise/LC01234/**" matches no name of androidmanagement.googleapis.com's patterns [enterprises/*/devices/*/operations/*]`,
		},
		{
			name: "allow template beginning with a wildcard",
			yaml: "services:\n  - host: vault.googleapis.com\n    allow: [\"**\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): allow[0]: "**" begins with "**"; a template begins with a literal segment ("operations", "projects", …)`,
		},
		{
			name: "allow template that is no template",
			yaml: "services:\n  - host: vault.googleapis.com\n    allow: [\"operations/a b\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): allow[0]: invalid: template "operations/a b": segment "a b" has ' '; only literal segments, "*" and "**" are allowed`,
		},
		{
			// A typo of the host: not in the catalog, not Google's.
			name: "token to a host outside Google",
			adc:  true,
			yaml: "services:\n  - host: vault.googleapi.co\n    patterns: [\"operations/**\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapi.co"): endpoint: vault.googleapi.co is outside Google's domain (*.googleapis.com), and auth adc would send it a bearer token: if it should get one (a private gateway or proxy), set allowTokenOutsideGoogle: true and the token's scopes in this entry; for an emulator or a fake, use auth none`,
		},
		{
			name: "token to an endpoint outside Google",
			adc:  true,
			yaml: "services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): endpoint: gateway.example.com is outside Google's domain (*.googleapis.com), and auth adc would send it a bearer token: if it should get one (a private gateway or proxy), set allowTokenOutsideGoogle: true and the token's scopes in this entry; for an emulator or a fake, use auth none`,
		},
		{
			name: "token outside Google without its scopes",
			adc:  true,
			yaml: "services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n    allowTokenOutsideGoogle: true\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): scopes: required with allowTokenOutsideGoogle: name the scopes of the token gateway.example.com may receive`,
		},
		{
			// The broadest token, to whoever holds the gateway's name.
			name: "token outside Google with the cloud-platform scope",
			adc:  true,
			yaml: "services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n    allowTokenOutsideGoogle: true\n" +
				"    scopes: [\"https://www.googleapis.com/auth/ediscovery\", \"https://www.googleapis.com/auth/cloud-platform\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): scopes[1]: "https://www.googleapis.com/auth/cloud-platform" is too broad for a token sent outside Google (gateway.example.com, allowTokenOutsideGoogle): it lets whoever holds it act as the credentials on every Google Cloud API, or mint tokens that do; name only the scopes this service's cancel and get accept`,
		},
		{
			name: "token outside Google with the iam scope",
			adc:  true,
			yaml: "services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n    allowTokenOutsideGoogle: true\n" +
				"    scopes: [\"https://www.googleapis.com/auth/iam/\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): scopes[0]: "https://www.googleapis.com/auth/iam/" is too broad for a token sent outside Google (gateway.example.com, allowTokenOutsideGoogle): it lets whoever holds it act as the credentials on every Google Cloud API, or mint tokens that do; name only the scopes this service's cancel and get accept`,
		},
		{
			name: "pattern of any project resource",
			yaml: "services:\n  - host: vault.googleapis.com\n    patterns: [\"operations/**\", \"projects/**\"]\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): patterns[1]: "projects/**" is not the shape of an operation name: a pattern must end in "operations/*" or "operations/**" (set allowNonOperationPatterns: true for an API whose operations are named otherwise)`,
		},
		{
			name: "rate that rounds to unlimited",
			yaml: "services:\n  - host: vault.googleapis.com\n    rate: 1e-11\n",
			want: `services file s.yaml: services[0] (host "vault.googleapis.com"): rate: 1e-11 must be 0 (unlimited) or at least 0.001 requests per second`,
		},
		{
			name: "version the catalog lacks",
			yaml: "services:\n  - host: sqladmin.googleapis.com\n    version: v9\n",
			want: `services file s.yaml: services[0] (host "sqladmin.googleapis.com"): version: "v9" is not a version of sqladmin.googleapis.com in the catalog (v1, v1beta4); another version needs its patterns`,
		},
		{
			name: "empty file",
			yaml: "",
			want: `services file s.yaml: empty; want a "services:" list`,
		},
		{
			name: "not yaml",
			yaml: "services: [\n",
			want: "services file s.yaml: line 1: did not find expected node content",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTable("s.yaml", []byte(tt.yaml), FileOptions{SendsTokens: tt.adc})
			if err == nil {
				t.Fatalf("ParseTable = nil error, want %q", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestParseTableReplacesBuiltin(t *testing.T) {
	t.Parallel()
	table, err := ParseTable("s.yaml", []byte(`
services:
  - host: vault.googleapis.com
    endpoint: http://127.0.0.1:9999
    version: v1
    patterns: ["operations/**"]
    scopes: ["https://www.googleapis.com/auth/ediscovery"]
    subject: admin@example.com
    rate: 50
    maxConcurrency: 8
    verifyTimeout: 90s
  - host: example.googleapis.com
    patterns: ["projects/*/operations/*"]
`), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"vault.googleapis.com", "androidmanagement.googleapis.com", "example.googleapis.com"}, table.Hosts()); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
	v := table.Lookup("vault.googleapis.com")
	if v.Endpoint.String() != "http://127.0.0.1:9999" || v.Rate != 50 || v.MaxConcurrency != 8 || v.VerifyTimeout != 90*time.Second || v.Subject != "admin@example.com" {
		t.Errorf("vault entry = %+v", v)
	}
	ex := table.Lookup("example.googleapis.com")
	if ex.Endpoint.String() != "https://example.googleapis.com" || ex.Version != "v1" || ex.Scopes[0] != cloudPlatformScope || ex.MaxConcurrency != 0 {
		t.Errorf("defaults not applied: %+v", ex)
	}
}

func TestLoadTable(t *testing.T) {
	t.Parallel()
	table, err := LoadTable("", FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"vault.googleapis.com", "androidmanagement.googleapis.com"}, table.Hosts()); diff != "" {
		t.Errorf("built-ins (-want +got):\n%s", diff)
	}
	_, err = LoadTable(filepath.Join(t.TempDir(), "missing.yaml"), FileOptions{})
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("LoadTable(missing) = %v, want a not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func FuzzParseTable(f *testing.F) {
	f.Add([]byte("services:\n  - host: a.googleapis.com\n    patterns: [\"operations/**\"]\n"))
	f.Add([]byte("services:\n  - host: vault.googleapis.com\n    endpoint: http://127.0.0.1:1\n    patterns: [\"operations/**\"]\n    rate: 5\n    verifyTimeout: 1m\n"))
	f.Add([]byte("services: [{host: x, patterns: ['**']}]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := ParseTable("fuzz.yaml", data, FileOptions{SendsTokens: true})
		if err != nil {
			return
		}
		for _, s := range table.Services() {
			if s.Endpoint.Scheme != "https" {
				t.Fatalf("accepted %s with SendsTokens", s.Endpoint)
			}
			if s.Endpoint.User != nil || (s.Endpoint.Path != "" && s.Endpoint.Path != "/") {
				t.Fatalf("accepted endpoint %s", s.Endpoint)
			}
			if validateHost(s.Host) != nil {
				t.Fatalf("accepted host %q", s.Host)
			}
		}
	})
}
