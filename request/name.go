package request

import (
	"errors"
	"fmt"
)

// ErrInvalid marks a name that breaks the name rules; lro wraps it too, for
// every validation failure of a name, host, template or route.
var ErrInvalid = errors.New("invalid")

// invalidf returns a validation error wrapping ErrInvalid.
func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// SegmentChar reports whether c may appear in a segment of an operation name:
// A-Z a-z 0-9 - _ . ~ @ : = +
func SegmentChar(c byte) bool {
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
// service (see docs/contract.md#validation): at most 1024 bytes; segments
// separated by single slashes, each non-empty, not "." or "..", and made
// only of A-Z a-z 0-9 - _ . ~ @ : = +. Percent-encoding, '?', '#', spaces,
// control characters and non-ASCII are all rejected, so a valid name is safe
// to put in a URL path as it is. Errors wrap ErrInvalid.
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
			if !SegmentChar(name[i]) {
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
