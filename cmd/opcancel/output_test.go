package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestControlSequencesArePrintedNotObeyed: what a terminal would act on
// is written out by escape, everything else is left alone.
func TestControlSequencesArePrintedNotObeyed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want string
	}{
		{"plain", "operations/abc-1 failed: NOT_FOUND (HTTP 404)", "operations/abc-1 failed: NOT_FOUND (HTTP 404)"},
		{"non-ASCII text", "Zugriff verweigert: “Ärger” ✓ 操作", "Zugriff verweigert: “Ärger” ✓ 操作"},
		{"backslash kept", `C:\path "quoted \"x\""`, `C:\path "quoted \"x\""`},
		{"CSI colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"OSC title with BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"OSC 8 hyperlink", "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", `\x1b]8;;http://evil\x1b\click\x1b]8;;\x1b\`},
		{"newline, CR, tab", "a\nb\rc\td", `a\nb\rc\td`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 CSI", "a\u009b31mb", `a\u009b31mb`},
		{"C1 NEL", "a\u0085b", `a\u0085b`},
		{"bidi override", "file\u202egnp.exe", `file\u202egnp.exe`},
		{"bidi isolates", "\u2066a\u2069\u2067b\u2068", `\u2066a\u2069\u2067b\u2068`},
		{"marks and zero width", "a\u200eb\u200fc\u200bd\ufeff", `a\u200eb\u200fc\u200bd\ufeff`},
		{"line separator", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"tag character", "a\U000e0041b", `a\U000e0041b`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"encoded C1 as bytes", "\xc2\x9b", `\u009b`},
		{"overlong ESC", "\xc0\x9b", `\xc0\x9b`},
		{"replacement char kept", "a\uFFFDb", "a\uFFFDb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := escape(tt.in); got != tt.want {
				t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestEscapeLeavesNothingATerminalActsOn: whatever the input, the result is
// valid UTF-8 without a control, format or separator character.
func TestEscapeLeavesNothingATerminalActsOn(t *testing.T) {
	t.Parallel()
	var all strings.Builder
	for r := rune(0); r < 0x3000; r++ {
		all.WriteRune(r)
	}
	for b := 0x80; b < 0x100; b++ {
		all.WriteByte(byte(b))
	}
	got := escape(all.String())
	if !utf8.ValidString(got) {
		t.Fatalf("escape left invalid UTF-8")
	}
	for _, r := range got {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			t.Errorf("escape left %U", r)
		}
	}
}

// TestWriteJSONEscapesWithoutChangingValues: --output json carries the
// same strings, with nothing in its bytes that a terminal acts on.
func TestWriteJSONEscapesWithoutChangingValues(t *testing.T) {
	t.Parallel()
	in := map[string]string{"message": "\x1b[2J\u009b\u202eevil\u2066\U000e0041\xff"}
	var buf bytes.Buffer
	if err := writeJSON(&buf, in); err != nil {
		t.Fatal(err)
	}
	for _, r := range buf.String() {
		if r != '\n' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			t.Errorf("the JSON has %U raw:\n%s", r, buf.String())
		}
	}
	var out map[string]string
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	// encoding/json replaces the invalid byte with U+FFFD; the rest is unchanged.
	if want := strings.ToValidUTF8(in["message"], "\uFFFD"); out["message"] != want {
		t.Errorf("decoded %q, want %q", out["message"], want)
	}
}
