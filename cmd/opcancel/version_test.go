package main

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	out, _, code, _ := runCLI(t, nil, "version")
	if code != 0 || !strings.HasPrefix(out, "opcancel dev (commit unknown, go1.") {
		t.Errorf("version = %q, exit %d", out, code)
	}
}
