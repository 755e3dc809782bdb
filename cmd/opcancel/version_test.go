package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionPrintsItsVersionCommitAndGo: `opcancel version` names the build
// a bug report needs: its version, its commit and the Go release.
func TestVersionPrintsItsVersionCommitAndGo(t *testing.T) {
	t.Parallel()
	out, _, code, _ := runCLI(t, nil, "version")
	b := build()
	if code != 0 || !strings.HasPrefix(out, "opcancel "+b.version+" (commit "+b.commit+", go1.") {
		t.Errorf("version = %q, exit %d", out, code)
	}
}

// TestVersionFromBuildInfo: without the stamps of deploy/build.sh, the
// version and commit come from what the Go toolchain recorded; stamps win.
// (TestGoInstallPrintsTheModuleVersionAndRevision in deploy/ builds and
// runs such a binary.)
func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name                        string
		linkedVersion, linkedCommit string
		info                        *debug.BuildInfo
		wantVersion, wantCommit     string
	}{
		{"stamped by build.sh", "v1.2.3", "abc1234", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122070000-0123456789ab"}, Settings: vcs(rev, "false")}, "v1.2.3", "abc1234"},
		{"go build in a checkout", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122070000-0123456789ab"}, Settings: vcs(rev, "false")}, "v0.0.0-20261122070000-0123456789ab", rev},
		{"go build of a changed checkout", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261122070000-0123456789ab+dirty"}, Settings: vcs(rev, "true")}, "v0.0.0-20261122070000-0123456789ab+dirty", rev + "-dirty"},
		{"go install of a tag", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, "v0.4.0", "unknown"},
		{"go install of a pseudo-version", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.1-0.20261122070000-0123456789ab"}}, "v0.4.1-0.20261122070000-0123456789ab", "0123456789ab"},
		{"no VCS, no version", "dev", "unknown", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "unknown"},
		{"no build info", "dev", "unknown", nil, "dev", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := stampOf(tt.linkedVersion, tt.linkedCommit, func() (*debug.BuildInfo, bool) { return tt.info, tt.info != nil })
			if got.version != tt.wantVersion || got.commit != tt.wantCommit {
				t.Errorf("stampOf = %q, %q; want %q, %q", got.version, got.commit, tt.wantVersion, tt.wantCommit)
			}
		})
	}
}
