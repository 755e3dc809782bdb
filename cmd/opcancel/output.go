package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// escape returns s with everything a terminal could act on written out as
// a Go escape, as docs/contract.md#terminal-output lists it; printable
// text, backslashes included, is left as it is: the result is for reading,
// not for parsing back. Text that came from a message or an API (names,
// error messages, operation types, outcomes and codes of result events)
// reaches the terminal only through escape, so that an API's error message
// cannot move the cursor, recolour, retitle the window, or reorder what the
// operator reads.
func escape(s string) string {
	if strings.IndexFunc(s, unsafeRune) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports whether a terminal could act on r rather than show
// it: a control character (C0, DEL, C1), a format character (Cf: the
// bidirectional controls, zero-width joiners, soft hyphens), or a line or
// paragraph separator. utf8.RuneError itself is printable (it is how
// invalid bytes decode), so escape checks those bytes separately.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// escapeRune is the escape of an unsafe rune.
func escapeRune(r rune) string {
	switch r {
	case '\n':
		return `\n`
	case '\r':
		return `\r`
	case '\t':
		return `\t`
	}
	switch {
	case r < utf8.RuneSelf:
		return fmt.Sprintf(`\x%02x`, r)
	case r > 0xffff:
		return fmt.Sprintf(`\U%08x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// writeJSON writes v on w as indented JSON: the --output json and --json
// forms of the commands' results (submit, services). encoding/json escapes
// C0 controls and replaces invalid UTF-8, but writes C1 controls and format
// characters as they are; they are written as \u escapes here, which leaves
// the JSON's values unchanged.
func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(escapeJSON(buf.Bytes()))
	return err
}

// escapeJSON rewrites the unsafe runes of encoded JSON (valid UTF-8, as
// encoding/json writes it) as \u escapes. Outside strings JSON has only
// ASCII punctuation, digits, letters and white space, so every such rune
// is inside a string, where \uXXXX (a surrogate pair past U+FFFF) means
// the same rune.
func escapeJSON(b []byte) []byte {
	if bytes.IndexFunc(b, func(r rune) bool { return r >= utf8.RuneSelf && unsafeRune(r) }) < 0 {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r > 0xffff && unsafeRune(r):
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		case r >= utf8.RuneSelf && unsafeRune(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
