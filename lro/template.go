package lro

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameBytes is the longest operation name accepted (CONTRACT §3).
const MaxNameBytes = 1024

// ErrInvalid marks every validation failure: of a name, a host, a template or a
// route. Such a failure never produces a request.
var ErrInvalid = errors.New("invalid")

// invalidf returns a validation error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// segmentChar reports whether c may appear in a name segment:
// A-Z a-z 0-9 - _ . ~ @ : = +
func segmentChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '@', ':', '=', '+':
		return true
	}
	return false
}

// ValidateName checks the rules every operation name obeys regardless of
// service (CONTRACT §3): at most 1024 bytes; segments separated by single
// slashes, each non-empty, not "." or "..", and made only of
// A-Z a-z 0-9 - _ . ~ @ : = +. Percent-encoding, '?', '#', spaces, control
// characters and non-ASCII are all rejected, so a valid name is safe to put in a
// URL path as it is.
func ValidateName(name string) error {
	if name == "" {
		return invalidf("empty name")
	}
	if len(name) > MaxNameBytes {
		return invalidf("name is %d bytes, the limit is %d", len(name), MaxNameBytes)
	}
	seg := 0
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			if !segmentChar(name[i]) {
				return invalidf("name has a forbidden character %q at byte %d", name[i], i)
			}
			continue
		}
		switch s := name[seg:i]; s {
		case "":
			return invalidf("name has an empty segment at byte %d", seg)
		case ".", "..":
			return invalidf("name has a %q segment", s)
		}
		seg = i + 1
	}
	return nil
}

// Template is an AIP path template of literal segments, "*" (exactly one
// segment) and "**" (one or more segments), such as
// "enterprises/*/devices/*/operations/*" or "operations/**".
type Template struct {
	raw      string
	segments []string
	// multi is the index of the "**" segment, or -1.
	multi int
}

// ParseTemplate parses a path template. Literal segments obey the same
// character rules as names; at most one "**" is allowed.
func ParseTemplate(s string) (Template, error) {
	t := Template{raw: s, multi: -1}
	if s == "" {
		return t, invalidf("empty template")
	}
	if len(s) > MaxNameBytes {
		return t, invalidf("template is longer than %d bytes", MaxNameBytes)
	}
	t.segments = strings.Split(s, "/")
	for i, seg := range t.segments {
		switch {
		case seg == "*":
		case seg == "**":
			if t.multi >= 0 {
				return t, invalidf("template %q has more than one \"**\"", s)
			}
			t.multi = i
		case seg == "":
			return t, invalidf("template %q has an empty segment", s)
		case seg == "." || seg == "..":
			return t, invalidf("template %q has a %q segment", s, seg)
		default:
			for j := 0; j < len(seg); j++ {
				if !segmentChar(seg[j]) {
					return t, invalidf("template %q: segment %q has %q; only literal segments, \"*\" and \"**\" are allowed", s, seg, seg[j])
				}
			}
		}
	}
	return t, nil
}

// MustParseTemplate is ParseTemplate for templates known to be valid; it
// panics otherwise and is meant for package-level tables and tests.
func MustParseTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// Match reports whether name matches the template completely. It does not
// validate the characters of name; callers validate first.
func (t Template) Match(name string) bool {
	n := strings.Count(name, "/") + 1
	if t.multi < 0 {
		if n != len(t.segments) {
			return false
		}
		return matchSegments(t.segments, name)
	}
	// "**" takes at least one segment: the name needs at least as many
	// segments as the template.
	if n < len(t.segments) {
		return false
	}
	// Split the name into the part before "**", the part it absorbs and the part after.
	head, tail := t.segments[:t.multi], t.segments[t.multi+1:]
	rest := name
	if len(head) > 0 {
		i := nthSlash(rest, len(head))
		if !matchSegments(head, rest[:i]) {
			return false
		}
		rest = rest[i+1:]
	}
	if len(tail) > 0 {
		i := nthSlashFromEnd(rest, len(tail))
		if !matchSegments(tail, rest[i+1:]) {
			return false
		}
	}
	return true
}

// matchSegments matches name segment by segment against literals and "*";
// name has exactly len(segs) segments.
func matchSegments(segs []string, name string) bool {
	for i, seg := range segs {
		part := name
		if j := strings.IndexByte(name, '/'); j >= 0 {
			part, name = name[:j], name[j+1:]
		} else if i != len(segs)-1 {
			return false
		}
		if seg != "*" && seg != part {
			return false
		}
	}
	return true
}

// nthSlash returns the index of the n-th '/' in s (n >= 1); the caller knows it exists.
func nthSlash(s string, n int) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return len(s)
}

// nthSlashFromEnd returns the index of the n-th '/' counted from the end.
func nthSlashFromEnd(s string, n int) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return -1
}
