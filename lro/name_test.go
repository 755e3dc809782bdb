package lro

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	t.Parallel()
	valid := []string{
		"operations/abc123",
		"operations/a-b_c.d~e@f:g=h+i",
		"enterprises/LC01/devices/3f9a/operations/1700000000",
		"operations/" + strings.Repeat("a", maxNameBytes-len("operations/")),
		"a",
		"operations/..a",
		"operations/a..",
		"operations/.hidden",
	}
	for _, n := range valid {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
	invalid := map[string]string{
		"":                     "empty",
		"operations/..":        "dot-dot segment",
		"operations/../admin":  "dot-dot in the middle",
		"../operations/x":      "leading dot-dot",
		"operations/.":         "dot segment",
		"operations/./x":       "dot in the middle",
		"operations//x":        "empty segment",
		"/operations/x":        "leading slash",
		"operations/x/":        "trailing slash",
		"operations/a%2Fb":     "percent-encoded slash",
		"operations/%2e%2e":    "percent-encoded dots",
		"operations/a?b=c":     "query",
		"operations/a#frag":    "fragment",
		"operations/a b":       "space",
		"operations/a\tb":      "tab",
		"operations/a\nb":      "newline",
		"operations/a\x00b":    "NUL",
		"operations/a\x7fb":    "DEL",
		"operations/caf\u00e9": "non-ASCII",
		"operations/\u2215x":   "unicode slash",
		"operations/a\\b":      "backslash",
		"operations/a;b":       "semicolon",
		"operations/a,b":       "comma",
		"operations/a*b":       "asterisk",
		"operations/a'b":       "quote",
		"operations/" + strings.Repeat("a", maxNameBytes-len("operations/")+1): "1025 bytes",
		"//vault.googleapis.com/operations/x":                                  "full resource name",
		"http://127.0.0.1/operations/x":                                        "URL",
	}
	for n, why := range invalid {
		err := ValidateName(n)
		if err == nil {
			t.Errorf("ValidateName(%q) [%s] = nil, want an error", n, why)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%q) = %v, does not wrap ErrInvalid", n, err)
		}
	}
}

func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"operations/x", "operations/../x", "a//b", "enterprises/e/devices/d/operations/o", "%2F", "\xff", "operations/a?b"} {
		f.Add(s)
	}
	table := NewTable(nil)
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			if _, rerr := table.Route("", name); rerr == nil {
				t.Fatalf("Route accepted %q that ValidateName rejects", name)
			}
			return
		}
		// Everything accepted is safe to put in a URL path as is.
		if len(name) > maxNameBytes {
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
