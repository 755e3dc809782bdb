package request

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
		"operations/" + strings.Repeat("a", MaxNameBytes-len("operations/")),
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
		"operations/" + strings.Repeat("a", MaxNameBytes-len("operations/")+1): "1025 bytes",
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
