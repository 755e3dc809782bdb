package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// hostile is an API's error message written to take over a terminal: it
// retitles the window, clears the screen, recolours through a C1 CSI and
// reverses what follows with a bidirectional override.
const hostile = "\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\u2066"

// hostileEscaped is how it reaches the terminal.
const hostileEscaped = `\x1b]0;pwned\x07\x1b[2J\u009b31m\u202eevil\u2066`

// checkNothingRaw fails when text holds anything a terminal would act on:
// a control character other than a newline, a format character, a line or
// paragraph separator, or bytes that are not UTF-8.
func checkNothingRaw(t *testing.T, what, text string) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Errorf("%s is not UTF-8:\n%q", what, text)
	}
	for _, r := range text {
		if r != '\n' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) {
			t.Errorf("%s has %U raw:\n%q", what, r, text)
			return
		}
	}
}

// TestHostileAPITextReachesTheTerminalEscaped: an API's error message full
// of terminal escapes reaches submit --wait's table (the worker's outcome,
// through a result event), its --output json, and the one line a failed
// command prints (here --list-parent's, from the real binary) only escaped.
func TestHostileAPITextReachesTheTerminalEscaped(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{
		Fault: func(r *http.Request) *lrotest.Answer {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/operations") {
				a := lrotest.Err(lro.PermissionDenied, hostile)
				return &a
			}
			return nil
		},
	}, "")
	apis.vault.Set("operations/hostile", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.PermissionDenied, hostile)}})
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	_, logs, stop := startWorker(t, e, "--subscription="+ps.sub, "--results-topic="+ps.results, "--config="+apis.config)
	defer stop()
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	submit := func(args ...string) (string, string) {
		out, errb, code, _ := runCLI(t, env, append([]string{"submit", "--wait", "--topic=" + ps.topic, "--results-topic=" + ps.results,
			"--batches-topic=" + ps.batches, "--config=" + apis.config, "--auth=none", "operations/hostile"}, args...)...)
		if code != 3 {
			t.Errorf("submit %v: exit %d, want 3 (denied)\n%s\n%s\n%s", args, code, out, errb, logs)
		}
		return out, errb
	}

	out, errb := submit("--verbose")
	checkNothingRaw(t, "submit --wait's report", out)
	checkNothingRaw(t, "submit --wait's stderr", errb)
	if !strings.Contains(out, "operations/hostile  denied   PERMISSION_DENIED  PERMISSION_DENIED (HTTP 403): "+hostileEscaped) {
		t.Errorf("the report lacks the escaped message:\n%s", out)
	}

	out, _ = submit("--output=json")
	checkNothingRaw(t, "submit --wait --output json", strings.ReplaceAll(out, "\n", ""))
	var r batchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Names) != 1 || !strings.HasSuffix(r.Names[0].Message, hostile) {
		t.Errorf("--output json does not carry the message itself: %v %+v\n%s", err, r, out)
	}

	cmd := exec.Command(binary(t), "submit", "--topic="+ps.topic, "--config="+apis.config, "--auth=none", "--service="+amapiHost,
		"--list-parent=enterprises/e1/devices/d1/operations", "--yes")
	cmd.Env = append(cmd.Environ(), "PUBSUB_EMULATOR_HOST="+e.Host)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Errorf("--list-parent answered with an error: exit 0")
	}
	checkNothingRaw(t, "the failed command's line", stderr.String())
	if want := "PERMISSION_DENIED (HTTP 403): " + hostileEscaped + "\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to end in %q", stderr.String(), want)
	}
}
