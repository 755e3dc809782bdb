package main

import (
	"context"
	"fmt"
	"runtime"
)

// Set at build time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

type versionCmd struct{}

func (versionCmd) Run(_ context.Context, e *env) error {
	_, err := fmt.Fprintf(e.stdout, "opcancel %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

func userAgent() string { return "opcancel/" + version }
