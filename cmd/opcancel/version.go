package main

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set at build time by deploy/build.sh:
// -ldflags "-X main.version=... -X main.commit=...". Read them through
// build(), which falls back to the module's build info.
var (
	version = "dev"
	commit  = "unknown"
)

// stamp is what binary runs: its version and the commit it was built from.
type stamp struct{ version, commit string }

// build is the binary's stamp: what deploy/build.sh linked in, else what
// the Go toolchain recorded (go build and go install in a checkout, go
// install of a module version).
var build = sync.OnceValue(func() stamp { return stampOf(version, commit, debug.ReadBuildInfo) })

// pseudoVersionRev is the revision a module pseudo-version ends with
// (v0.0.0-20261122070000-abcdef123456, optionally +dirty or +incompatible).
var pseudoVersionRev = regexp.MustCompile(`-(?:0\.)?\d{14}-([0-9a-f]{12})(?:\+.*)?$`)

// stampOf completes the linked version and commit from the build info that
// read returns: the main module's version (a tag, or a pseudo-version
// naming the commit; "(devel)" says nothing) and the VCS revision, marked
// -dirty when the checkout had changes. What linked values give wins.
func stampOf(linkedVersion, linkedCommit string, read func() (*debug.BuildInfo, bool)) stamp {
	s := stamp{linkedVersion, linkedCommit}
	info, ok := read()
	if !ok {
		return s
	}
	if s.version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		s.version = info.Main.Version
	}
	if s.commit != "unknown" {
		return s
	}
	var rev string
	modified := false
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value == "true"
		}
	}
	switch {
	case rev != "" && modified:
		s.commit = rev + "-dirty"
	case rev != "":
		s.commit = rev
	case pseudoVersionRev.MatchString(info.Main.Version):
		// go install of a module version: no VCS, but a pseudo-version
		// names its commit.
		s.commit = pseudoVersionRev.FindStringSubmatch(info.Main.Version)[1]
	}
	return s
}

type versionCmd struct{}

func (versionCmd) Run(_ context.Context, e *env) error {
	b := build()
	_, err := fmt.Fprintf(e.stdout, "opcancel %s (commit %s, %s %s/%s)\n", b.version, b.commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

func userAgent() string { return "opcancel/" + build().version }
