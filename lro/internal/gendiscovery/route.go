package main

import (
	"fmt"
	"strings"
)

// methodPath is a method's URL path split into the prefix before the
// operation name, the name's template and what follows the name.
type methodPath struct {
	prefix, pattern, suffix string
}

// splitPath splits the full path of m (the document's servicePath and the
// method's path) around the resource name it takes.
//
// A path with a reserved expansion, "v1/{+name}:cancel", has the name where
// the expansion is, and the parameter's regular expression gives its
// template. A path of simple parameters, Cloud SQL's
// "v1/projects/{project}/operations/{operation}/cancel", has the name after
// the segment that is the API's version; each {param} is one segment.
func splitPath(d *doc, m *method) (methodPath, error) {
	path := d.ServicePath + m.Path
	if i := strings.Index(path, "{+"); i >= 0 {
		j := strings.IndexByte(path[i:], '}')
		if j < 0 {
			return methodPath{}, fmt.Errorf("%s: path %q: unclosed {+", m.ID, path)
		}
		p, ok := m.Parameters[path[i+2:i+j]]
		if !ok || p.Location != "path" {
			return methodPath{}, fmt.Errorf("%s: path %q: no path parameter %q", m.ID, path, path[i+2:i+j])
		}
		pattern, err := regexTemplate(p.Pattern)
		if err != nil {
			return methodPath{}, fmt.Errorf("%s: parameter %s: %w", m.ID, path[i+2:i+j], err)
		}
		return methodPath{prefix: path[:i], pattern: pattern, suffix: path[i+j+1:]}, nil
	}
	segs := strings.Split(path, "/")
	k := -1
	for i, s := range segs {
		if s == d.Version {
			k = i
			break
		}
		if strings.Contains(s, "{") {
			break
		}
	}
	if k < 0 {
		return methodPath{}, fmt.Errorf("%s: path %q has neither {+param} nor the version %q before its parameters", m.ID, path, d.Version)
	}
	mp := methodPath{prefix: strings.Join(segs[:k+1], "/") + "/"}
	rest := segs[k+1:]
	if last := rest[len(rest)-1]; !strings.Contains(last, "{") && len(rest) > 1 {
		mp.suffix, rest = "/"+last, rest[:len(rest)-1] // ".../{operation}/cancel"
	} else if i := strings.LastIndexByte(last, '}'); i >= 0 && i < len(last)-1 {
		mp.suffix, rest[len(rest)-1] = last[i+1:], last[:i+1] // ".../{operationId}:cancel"
	}
	tmpl := make([]string, len(rest))
	for i, s := range rest {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && !strings.ContainsAny(s[1:len(s)-1], "{}+"):
			tmpl[i] = "*"
		case validLiteral(s):
			tmpl[i] = s
		default:
			return methodPath{}, fmt.Errorf("%s: path %q: segment %q is neither a literal nor one {param}", m.ID, path, s)
		}
	}
	mp.pattern = strings.Join(tmpl, "/")
	return mp, nil
}

// regexTemplate converts the regular expression of a resource-name parameter
// into a path template: "^projects/[^/]+/operations/[^/]+$" is
// "projects/*/operations/*" and a final ".*" or ".+" is "**". Any other
// construct is an error, so that an unexpected document stops the generator
// instead of producing a pattern wider or narrower than the API's.
func regexTemplate(re string) (string, error) {
	body, ok := strings.CutPrefix(re, "^")
	if ok {
		body, ok = strings.CutSuffix(body, "$")
	}
	if !ok || body == "" {
		return "", fmt.Errorf("pattern %q is not anchored with ^ and $", re)
	}
	var segs []string
	for body != "" {
		var seg string
		switch {
		case strings.HasPrefix(body, "[^/]+"):
			seg, body = "*", body[len("[^/]+"):]
		case body == ".*" || body == ".+":
			seg, body = "**", ""
		default:
			i := strings.IndexByte(body, '/')
			if i < 0 {
				i = len(body)
			}
			seg, body = body[:i], body[i:]
			if !validLiteral(seg) {
				return "", fmt.Errorf("pattern %q: %q is not a literal segment, [^/]+ or a final .*", re, seg)
			}
		}
		segs = append(segs, seg)
		if body == "" {
			break
		}
		if body, ok = strings.CutPrefix(body, "/"); !ok || body == "" {
			return "", fmt.Errorf("pattern %q: segments must be separated by single slashes", re)
		}
	}
	return strings.Join(segs, "/"), nil
}

// validLiteral reports whether s is a literal segment as operation names
// spell them: letters, digits, '-', '_' and '.', not "." or "..".
func validLiteral(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// parent returns the collection of a name template: the template without
// its last segment ("operations" for "operations/**").
func parent(pattern string) string {
	i := strings.LastIndexByte(pattern, '/')
	if i < 0 {
		return ""
	}
	return pattern[:i]
}
