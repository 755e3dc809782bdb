package lro

import (
	"testing"
)

func TestTemplateMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl string
		name string
		want bool
	}{
		{"operations/**", "operations/a", true},
		{"operations/**", "operations/a/b/c", true},
		{"operations/**", "operations", false},
		{"operations/**", "operationsx/a", false},
		{"operations/**", "other/operations/a", false},
		{"enterprises/*/devices/*/operations/*", "enterprises/e/devices/d/operations/o", true},
		{"enterprises/*/devices/*/operations/*", "enterprises/e/devices/d/operations/o/x", false},
		{"enterprises/*/devices/*/operations/*", "enterprises/e/devices/d/operations", false},
		{"enterprises/*/devices/*/operations/*", "enterprises/e/policies/d/operations/o", false},
		{"projects/*/**/operations/*", "projects/p/a/operations/o", true},
		{"projects/*/**/operations/*", "projects/p/a/b/operations/o", true},
		{"projects/*/**/operations/*", "projects/p/operations/o", false},
		{"**", "x", true},
		{"**/x", "a/b/x", true},
		{"**/x", "x", false},
		{"a/*", "a/b", true},
		{"a/*", "a", false},
	}
	for _, tt := range tests {
		tm, err := parseTemplate(tt.tmpl)
		if err != nil {
			t.Fatalf("parseTemplate(%q) = %v", tt.tmpl, err)
		}
		if got := tm.Match(tt.name); got != tt.want {
			t.Errorf("%q.Match(%q) = %v, want %v", tt.tmpl, tt.name, got, tt.want)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "operations//x", "/operations", "operations/{name=**}", "a/**/b/**", "a/../b", "a/b c", "operations/*x", "a/%2F"} {
		if _, err := parseTemplate(s); err == nil {
			t.Errorf("parseTemplate(%q) = nil error, want one", s)
		}
	}
}
