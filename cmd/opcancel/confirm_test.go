package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
)

// TestConfirmationEndsOnCtrlC: Ctrl-C at the y/N question ends it at once,
// without waiting for Enter, and nothing is done; a line still answers.
func TestConfirmationEndsOnCtrlC(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r, w := io.Pipe()
		defer w.Close() // ends the read the question gave up
		ctx, cancel := context.WithCancel(t.Context())
		var err error
		returned := false
		go func() {
			_, err = readAnswer(ctx, r)
			returned = true
		}()
		synctest.Wait()
		if returned {
			t.Fatal("answered before any input")
		}
		cancel()
		synctest.Wait()
		if !returned || !errors.Is(err, context.Canceled) {
			t.Errorf("after Ctrl-C: returned %v, %v; want the question given up", returned, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		r, w := io.Pipe()
		go io.WriteString(w, "yes\n")
		if got, err := readAnswer(t.Context(), r); err != nil || got != "yes\n" {
			t.Errorf("answer = %q, %v; want the line", got, err)
		}
	})
}

// TestConfirmationSkippedByTheEnvironmentIsSaid: OPCANCEL_YES or
// OPCANCEL_CONFIRM_ABOVE left in a shell's environment skip the question,
// but never silently; the same flags on the command line say nothing.
func TestConfirmationSkippedByTheEnvironmentIsSaid(t *testing.T) {
	t.Parallel()
	w := newPstestWorld(t, "http://127.0.0.1:1")
	for _, tt := range []struct {
		what string
		env  map[string]string
		args []string
		want string
	}{
		{"OPCANCEL_YES", map[string]string{"OPCANCEL_YES": "true"}, []string{"--confirm-above=1"},
			"confirmation skipped by OPCANCEL_YES: 2 messages, more than --confirm-above 1"},
		{"OPCANCEL_CONFIRM_ABOVE", map[string]string{"OPCANCEL_CONFIRM_ABOVE": "5"}, nil,
			"no confirmation asked: 2 messages, not more than --confirm-above 5, set by OPCANCEL_CONFIRM_ABOVE"},
		{"--yes", nil, []string{"--confirm-above=1", "--yes"}, ""},
		{"--confirm-above", nil, []string{"--confirm-above=5"}, ""},
	} {
		env := map[string]string{"PUBSUB_EMULATOR_HOST": w.Server.Addr}
		for k, v := range tt.env {
			env[k] = v
		}
		out, errb, code, err := runCLI(t, env, append([]string{"submit", "--project=p", "--topic=" + w.Topic, "operations/a", "operations/b"}, tt.args...)...)
		if code != 0 {
			t.Errorf("%s: exit %d (%v)\n%s\n%s", tt.what, code, err, out, errb)
		}
		said := strings.Contains(errb, "confirmation skipped") || strings.Contains(errb, "no confirmation asked")
		if tt.want != "" && !strings.Contains(errb, tt.want) || tt.want == "" && said {
			t.Errorf("%s: stderr %q, want %q", tt.what, errb, tt.want)
		}
	}
}
