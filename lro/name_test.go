package lro

import (
	"strings"
	"testing"

	"opcancel/request"
)

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
		if len(name) > request.MaxNameBytes {
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
