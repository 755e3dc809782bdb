package queuetest

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartEndsWithoutATimer: a start that cannot succeed ends when the
// emulator exits, when it reports that its start failed (it does not exit
// then), or when the caller's context ends; never at a fixed timeout.
func TestStartEndsWithoutATimer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exits := script("exits", `echo "no Java runtime"; exit 1`)
	hangs := script("hangs", `echo "starting"; exec sleep 3600`)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := start(context.Background(), exits, 1); err == nil || !strings.Contains(err.Error(), "no Java runtime") || errors.Is(err, errPortTaken) {
		t.Errorf("an emulator that exits: %v, want its output", err)
	}
	if _, err := start(cancelled, hangs, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("an emulator that never serves, context ended: %v, want the context's error", err)
	}
}

// TestStartOnATakenPort: when another process holds the port, the emulator
// says so and lives on; start reports errPortTaken at once, so that Start
// tries another port.
func TestStartOnATakenPort(t *testing.T) {
	t.Parallel()
	bin, err := Binary()
	if err != nil {
		t.Skip(err)
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ctx, cancel := untilDeadline(t)
	defer cancel()
	if _, err := start(ctx, bin, held.Addr().(*net.TCPAddr).Port); !errors.Is(err, errPortTaken) {
		t.Errorf("start on a taken port: %v, want errPortTaken", err)
	}
}
