package lro

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplateOverlaps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"enterprises/LC01234/**", "enterprises/*/devices/*/operations/*", true},
		{"enterprises/LC01234/devices/d1/operations/*", "enterprises/*/devices/*/operations/*", true},
		{"enterprise/LC01234/**", "enterprises/*/devices/*/operations/*", false},
		{"enterprises/LC01234/devices/*", "enterprises/*/devices/*/operations/*", false},
		{"projects/my-project/**", "projects/*/locations/*/operations/*", true},
		{"projects/my-project/**", "operations/**", false},
		{"operations/team-a/**", "operations/**", true},
		{"operations/**", "operations/*", true},
		{"operations/*/x", "operations/*", false},
		{"a/**/z", "a/b/**", true},
		{"a/**/z", "a/b/*", true}, // a/b/z
		{"a/**/z", "a/*/y", false},
		{"a/**/z", "a/**/y", false},
		{"a/**", "a", false}, // "**" takes at least one segment
		{"x/**/y", "x/*", false},
		{"x/*/**", "x/**/y", true},
	}
	for _, tt := range tests {
		a, b := MustParseTemplate(tt.a), MustParseTemplate(tt.b)
		if got := a.Overlaps(b); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.Overlaps(a); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.b, tt.a, got, tt.want)
		}
		// The witness is a name of both, with "*" filled.
		shape, ok := witness(a, b)
		name := strings.ReplaceAll(strings.Join(shape, "/"), "*", "w")
		if ok != tt.want || ok && !(a.Match(name) && b.Match(name)) {
			t.Errorf("witness(%s, %s) = %q, %v; want a name of both: %v", tt.a, tt.b, name, ok, tt.want)
		}
	}
}

// TestAllowListsForbid: a name of an enabled service outside its allow list
// is forbidden, with the rule that refused it; the client never sends it;
// a service without an allow list admits every name of its patterns.
func TestAllowListsForbid(t *testing.T) {
	t.Parallel()
	table := enterprisesTable(t)
	amapi := table.Lookup("androidmanagement.googleapis.com")
	for _, name := range []string{"enterprises/LC01234/devices/d1/operations/o1", "enterprises/LC05678/devices/kiosk1/operations/o"} {
		if err := amapi.Allowed(name); err != nil {
			t.Errorf("Allowed(%q) = %v", name, err)
		}
	}
	err := amapi.Allowed("enterprises/LC09999/devices/d1/operations/o1")
	want := `forbidden: name "enterprises/LC09999/devices/d1/operations/o1" is outside the allow list of androidmanagement.googleapis.com in the services file [enterprises/LC01234/** enterprises/LC05678/devices/kiosk1/operations/*]`
	if !errors.Is(err, ErrForbidden) || err.Error() != want {
		t.Errorf("Allowed(another enterprise) = %v\nwant %s", err, want)
	}
	if errors.Is(err, ErrInvalid) {
		t.Error("a forbidden name is not an invalid one")
	}
	if err := table.Lookup("vault.googleapis.com").Allowed("operations/any"); err != nil {
		t.Errorf("a service without an allow list: %v", err)
	}

	// The rule is bounded: a long list and a long name are cut.
	var many []string
	for i := range 20 {
		many = append(many, `"operations/team`+strings.Repeat("x", i)+`/**"`)
	}
	long, err := ParseTable("s.yaml", []byte("services:\n  - host: vault.googleapis.com\n    allow: ["+strings.Join(many, ", ")+"]\n"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = long.Lookup("vault.googleapis.com").Allowed("operations/" + strings.Repeat("y", 1000))
	if err == nil || len(err.Error()) > 600 || !strings.Contains(err.Error(), "… 12 more]") {
		t.Errorf("the refusal of a long name by a long list is %d bytes: %v", len(err.Error()), err)
	}
}

// enterprisesTable enables Android Management with an allow list of an
// enterprise and one device of another, and Vault without one.
func enterprisesTable(t *testing.T) *Table {
	t.Helper()
	table, err := ParseTable("s.yaml", []byte(`
services:
  - host: androidmanagement.googleapis.com
    allow: ["enterprises/LC01234/**", "enterprises/LC05678/devices/kiosk1/operations/*"]
`), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestAllowedShapes: the shapes of the names the doctor may probe are
// inside the allow list where there is one, and the patterns otherwise.
func TestAllowedShapes(t *testing.T) {
	t.Parallel()
	table := enterprisesTable(t)
	tests := []struct {
		host string
		want string
	}{
		{"androidmanagement.googleapis.com", "enterprises/LC01234/devices/*/operations/* enterprises/LC05678/devices/kiosk1/operations/*"},
		{"vault.googleapis.com", "operations/*"},
	}
	for _, tt := range tests {
		var got []string
		for _, shape := range table.Lookup(tt.host).AllowedShapes() {
			got = append(got, strings.Join(shape, "/"))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: AllowedShapes() = %q, want %q", tt.host, got, tt.want)
		}
	}
}

// TestAllowedParent: a collection may be listed when the allow list may
// admit one of its operations, at any depth.
func TestAllowedParent(t *testing.T) {
	t.Parallel()
	table := enterprisesTable(t)
	amapi := table.Lookup("androidmanagement.googleapis.com")
	for _, tt := range []struct {
		parent string
		want   bool
	}{
		{"enterprises/LC01234/devices/d1/operations", true},
		{"enterprises/LC05678/devices/kiosk1/operations", true},
		{"enterprises/LC05678/devices/kiosk2/operations", false},
		{"enterprises/LC09999/devices/d1/operations", false},
	} {
		err := amapi.AllowedParent(tt.parent)
		if got := err == nil; got != tt.want || err != nil && !errors.Is(err, ErrForbidden) {
			t.Errorf("AllowedParent(%q) = %v, want allowed %v", tt.parent, err, tt.want)
		}
	}
	vault := MustParseTemplate("operations/team-a/**")
	table.Lookup("vault.googleapis.com").Allow = []Template{vault}
	if err := table.Lookup("vault.googleapis.com").AllowedParent("operations"); err != nil {
		t.Errorf("AllowedParent(operations) with %s = %v; its list may answer team-a's", vault, err)
	}
}

// TestAllowListsMatchNamesAsWritten: templates match literally and
// case-sensitively (docs/contract.md#allow-lists): a project's ID does not
// admit the names an API lists with its number, nor another spelling of
// the ID; the contract's example lists both.
func TestAllowListsMatchNamesAsWritten(t *testing.T) {
	t.Parallel()
	table, err := ParseTable("s.yaml", []byte(`
services:
  - host: aiplatform.googleapis.com
    allow: ["projects/my-project/**", "projects/123456789012/**"]
`), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aip := table.Lookup("aiplatform.googleapis.com")
	for name, want := range map[string]bool{
		"projects/my-project/locations/us-central1/operations/1":   true,
		"projects/123456789012/locations/us-central1/operations/1": true,
		"projects/My-Project/locations/us-central1/operations/1":   false,
		"projects/210987654321/locations/us-central1/operations/1": false,
	} {
		if got := aip.Allowed(name) == nil; got != want {
			t.Errorf("Allowed(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestBuiltinsOff: builtins: false enables exactly the services listed;
// a built-in's name is then invalid, and the error says why.
func TestBuiltinsOff(t *testing.T) {
	t.Parallel()
	table, err := ParseTable("s.yaml", []byte("builtins: false\nservices:\n  - host: aiplatform.googleapis.com\n"), FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := table.Hosts(); len(got) != 1 || got[0] != "aiplatform.googleapis.com" {
		t.Errorf("hosts = %v, want aiplatform.googleapis.com alone", got)
	}
	for _, tt := range []struct{ host, name, want string }{
		{"", "enterprises/e/devices/d/operations/o",
			`invalid: name "enterprises/e/devices/d/operations/o" matches no enabled service; it matches the patterns of androidmanagement.googleapis.com (a built-in, but the services file sets builtins: false): enable it in the services file ("- host: androidmanagement.googleapis.com")`},
		{"androidmanagement.googleapis.com", "enterprises/e/devices/d/operations/o",
			`invalid: service "androidmanagement.googleapis.com" is known but not enabled (a built-in, but the services file sets builtins: false); the services file line "- host: androidmanagement.googleapis.com" enables it`},
	} {
		if _, err := table.Route(tt.host, tt.name); err == nil || err.Error() != tt.want {
			t.Errorf("Route(%q, %q)\n got: %v\nwant: %s", tt.host, tt.name, err, tt.want)
		}
	}
	// A built-in listed with builtins: false is enabled by its entry.
	table, err = ParseTable("s.yaml", []byte("builtins: false\nservices:\n  - host: vault.googleapis.com\n"), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := table.Hosts(); len(got) != 1 || got[0] != "vault.googleapis.com" {
		t.Errorf("hosts = %v, want vault.googleapis.com alone", got)
	}
	// Absent, or true: today's default.
	for _, yaml := range []string{"services:\n  - host: aiplatform.googleapis.com\n", "builtins: true\nservices:\n  - host: aiplatform.googleapis.com\n"} {
		table, err := ParseTable("s.yaml", []byte(yaml), FileOptions{})
		if err != nil || len(table.Hosts()) != 3 {
			t.Errorf("%q: hosts %v, %v; want the built-ins and aiplatform", yaml, table.Hosts(), err)
		}
	}
}

func TestGoogleHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"vault.googleapis.com":                      true,
		"us-central1-aiplatform.googleapis.com":     true,
		"documentai.eu.rep.googleapis.com":          true,
		"private.googleapis.com:443":                true,
		"VAULT.GOOGLEAPIS.COM":                      true,
		"googleapis.com":                            false,
		"vault.googleapi.co":                        false,
		"vault.googleapis.com.attacker.example":     false,
		"evilgoogleapis.com":                        false,
		"127.0.0.1:8443":                            false,
		"[::1]:443":                                 false,
		"vault.googleapis.com.":                     false,
		"vault.googleapis.com@attacker.example":     false,
		"attacker.example/x.googleapis.com":         false,
		"169.254.169.254":                           false,
		"metadata.google.internal":                  false,
		"storage.googleapis.com:443:443":            false,
		"a..googleapis.com":                         false,
		"-a.googleapis.com":                         false,
		"xn--80ak6aa92e.googleapis.com":             true,
		"aiplatform-preprod.sandbox.googleapis.com": true,
	} {
		if got := googleHost(host); got != want {
			t.Errorf("googleHost(%q) = %v, want %v", host, got, want)
		}
	}
}
