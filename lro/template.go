package lro

import (
	"strings"

	"opcancel/request"
)

// Template is an AIP path template of literal segments, "*" (exactly one
// segment) and "**" (one or more segments), such as
// "enterprises/*/devices/*/operations/*" or "operations/**".
type Template struct {
	raw      string
	segments []string
	// multi is the index of the "**" segment, or -1.
	multi int
}

// parseTemplate parses a path template. Literal segments obey the same
// character rules as names; at most one "**" is allowed.
func parseTemplate(s string) (Template, error) {
	t := Template{raw: s, multi: -1}
	if s == "" {
		return t, invalidf("empty template")
	}
	if len(s) > request.MaxNameBytes {
		return t, invalidf("template is longer than %d bytes", request.MaxNameBytes)
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
				if !request.SegmentChar(seg[j]) {
					return t, invalidf("template %q: segment %q has %q; only literal segments, \"*\" and \"**\" are allowed", s, seg, seg[j])
				}
			}
		}
	}
	return t, nil
}

// MustParseTemplate is parseTemplate for templates known to be valid; it
// panics otherwise and is meant for package-level tables and tests.
func MustParseTemplate(s string) Template {
	t, err := parseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// location returns the index of the segment that holds a location: the "*"
// after a literal "locations" segment, with no "**" before it (where names
// may have any number of segments); -1 if there is none.
func (t Template) location() int {
	for i := 0; i+1 < len(t.segments); i++ {
		if t.segments[i] == "**" {
			return -1
		}
		if t.segments[i] == "locations" && t.segments[i+1] == "*" {
			return i + 1
		}
	}
	return -1
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

// Overlaps reports whether some name matches both t and u: the templates
// are matched against each other segment by segment, "*" taking any one
// segment and "**" one or more.
func (t Template) Overlaps(u Template) bool {
	a, b := expandMulti(t.segments), expandMulti(u.segments)
	// seen[i][j] marks (a[i:], b[j:]) as tried, and found not to overlap.
	seen := make([][]bool, len(a)+1)
	for i := range seen {
		seen[i] = make([]bool, len(b)+1)
	}
	var overlap func(i, j int) bool
	overlap = func(i, j int) bool {
		if seen[i][j] {
			return false
		}
		seen[i][j] = true
		switch {
		case i == len(a) && j == len(b):
			return true
		case i < len(a) && a[i] == anySegments && overlap(i+1, j):
			return true
		case j < len(b) && b[j] == anySegments && overlap(i, j+1):
			return true
		case i == len(a) || j == len(b):
			return false
		case a[i] == anySegments:
			return b[j] != anySegments && overlap(i, j+1)
		case b[j] == anySegments:
			return overlap(i+1, j)
		case a[i] == "*" || b[j] == "*" || a[i] == b[j]:
			return overlap(i+1, j+1)
		}
		return false
	}
	return overlap(0, 0)
}

// anySegments stands for zero or more segments in expandMulti's form.
const anySegments = "\x00"

// expandMulti writes "**" (one or more segments) as "*" followed by
// anySegments (zero or more).
func expandMulti(segs []string) []string {
	out := make([]string, 0, len(segs)+1)
	for _, s := range segs {
		if s == "**" {
			out = append(out, "*", anySegments)
			continue
		}
		out = append(out, s)
	}
	return out
}
