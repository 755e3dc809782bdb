package lro

import (
	"errors"
	"fmt"
	"strings"
)

// ErrForbidden marks an operation name of an enabled service that the
// service's allow list does not admit (see
// docs/contract.md#the-services-file): it is never sent.
var ErrForbidden = errors.New("forbidden")

// Allowed reports whether the deployment may cancel the operation name,
// which matches the service's patterns: nil when the service has no allow
// list or one of its templates matches, else an error wrapping ErrForbidden
// that names the rule, the service's allow list.
func (s *Service) Allowed(name string) error {
	if len(s.Allow) == 0 {
		return nil
	}
	for _, t := range s.Allow {
		if t.Match(name) {
			return nil
		}
	}
	return fmt.Errorf("%w: name %q is outside the allow list of %s in the services file %s", ErrForbidden, truncate(name, 200), s.Host, templateList(s.Allow))
}

// AllowedParent reports whether the allow list may admit an operation of
// the collection parent, a name ValidateParent accepts: nil without an
// allow list or when a template may match one of its children, else an
// error wrapping ErrForbidden that names the list. Listing a parent
// outside the list would only find names that are never sent. Children
// are taken at any depth: a list of "operations" may answer
// "operations/team-a/x" where the pattern is "operations/**".
func (s *Service) AllowedParent(parent string) error {
	if len(s.Allow) == 0 {
		return nil
	}
	children, err := parseTemplate(parent + "/**")
	if err != nil {
		return err
	}
	for _, t := range s.Allow {
		if t.Overlaps(children) {
			return nil
		}
	}
	return fmt.Errorf("%w: no operation of %q is inside the allow list of %s in the services file %s", ErrForbidden, truncate(parent, 200), s.Host, templateList(s.Allow))
}

// templateList shows templates as a bounded list: at most eight, each as written.
func templateList(ts []Template) string {
	out := make([]string, 0, min(len(ts), 9))
	for i, t := range ts {
		if i == 8 {
			out = append(out, fmt.Sprintf("… %d more", len(ts)-8))
			break
		}
		out = append(out, t.String())
	}
	return "[" + strings.Join(out, " ") + "]"
}

// parseAllow parses an entry's allow list: templates in the patterns'
// syntax, each beginning with a literal segment and matching some name of
// the service's patterns, so that a typo cannot silently forbid every name.
// An empty list is refused: leave the key out to allow every name.
func parseAllow(allow []string, s *Service) ([]Template, error) {
	if len(allow) == 0 {
		return nil, errors.New("allow: an empty list would forbid every name; leave the key out to allow them all")
	}
	ts := make([]Template, 0, len(allow))
	for j, a := range allow {
		t, err := parseTemplate(a)
		if err == nil {
			err = literalFirst(t)
		}
		if err != nil {
			return nil, fmt.Errorf("allow[%d]: %w", j, err)
		}
		if !overlapsAny(t, s.Routes) {
			return nil, fmt.Errorf("allow[%d]: %q matches no name of %s's patterns %s", j, a, s.Host, s.patternList())
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// overlapsAny reports whether some name matches t and one of the routes' patterns.
func overlapsAny(t Template, routes []Route) bool {
	for _, r := range routes {
		if t.Overlaps(r.Pattern) {
			return true
		}
	}
	return false
}

// literalFirst requires a template to begin with a literal segment: a
// leading "*" or "**" would let a message choose any path prefix under the
// version.
func literalFirst(t Template) error {
	if first := t.segments[0]; first == "*" || first == "**" {
		return fmt.Errorf("%q begins with %q; a template begins with a literal segment (\"operations\", \"projects\", …)", t.raw, first)
	}
	return nil
}

// AllowedShapes returns the shapes of the names of s that the API can
// read and the deployment may cancel: for each route with operations.get,
// and each allow template (the route alone without an allow list), the
// segments of names matching both, a literal or "*" for a segment of any
// value. A name made of a shape, "*" filled with any segment, matches the
// route's pattern and the template; callers check it with Readable and
// Allowed, since an earlier route may take it. As doctor's probe needs,
// see docs/contract.md#opcancel-doctor.
func (s *Service) AllowedShapes() [][]string {
	var shapes [][]string
	for _, r := range s.Routes {
		if r.NoGet {
			continue
		}
		allow := s.Allow
		if len(allow) == 0 {
			allow = []Template{r.Pattern}
		}
		for _, t := range allow {
			if shape, ok := witness(r.Pattern, t); ok {
				shapes = append(shapes, shape)
			}
		}
	}
	return shapes
}

// witness returns the segments of the shortest names matching both t
// and u, as Overlaps matches them: a literal where either template has
// one, else "*".
func witness(t, u Template) ([]string, bool) {
	a, b := expandMulti(t.segments), expandMulti(u.segments)
	// failed[i][j] marks (a[i:], b[j:]) as tried, and found not to overlap.
	failed := make([][]bool, len(a)+1)
	for i := range failed {
		failed[i] = make([]bool, len(b)+1)
	}
	var walk func(i, j int) ([]string, bool)
	walk = func(i, j int) ([]string, bool) {
		if failed[i][j] {
			return nil, false
		}
		if i == len(a) && j == len(b) {
			return []string{}, true
		}
		if i < len(a) && a[i] == anySegments {
			if w, ok := walk(i+1, j); ok {
				return w, true
			}
		}
		if j < len(b) && b[j] == anySegments {
			if w, ok := walk(i, j+1); ok {
				return w, true
			}
		}
		if i < len(a) && j < len(b) {
			seg, ni, nj := "", i, j
			switch {
			case a[i] == anySegments && b[j] == anySegments:
				// Both may be empty, tried above.
			case a[i] == anySegments:
				seg, nj = b[j], j+1
			case b[j] == anySegments:
				seg, ni = a[i], i+1
			case a[i] == "*":
				seg, ni, nj = b[j], i+1, j+1
			case b[j] == "*" || a[i] == b[j]:
				seg, ni, nj = a[i], i+1, j+1
			}
			if seg != "" {
				if w, ok := walk(ni, nj); ok {
					return append([]string{seg}, w...), true
				}
			}
		}
		failed[i][j] = true
		return nil, false
	}
	return walk(0, 0)
}
