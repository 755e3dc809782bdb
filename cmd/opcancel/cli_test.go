package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"opcancel/lro/lrotest"
)

func TestUsageErrorsExit2NamingTheBadValue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(lrotest.ServicesYAML(lrotest.Endpoints{vaultHost: "http://127.0.0.1:1"}, nil)), 0o600)
	gateway := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(gateway, []byte("services:\n  - host: vault.googleapis.com\n    endpoint: https://gateway.example.com\n"), 0o600)
	typo := filepath.Join(dir, "typo.yaml")
	os.WriteFile(typo, []byte("services:\n  - host: vault.googleapi.co\n    patterns: [\"operations/**\"]\n"), 0o600)
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("services:\n  - host: a.googleapis.com\n"), 0o600)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no subcommand", nil, nil, `expected one of "worker"`},
		{"missing subscription", nil, []string{"worker"}, "missing flags: --subscription"},
		{"bad int flag", nil, []string{"worker", "--subscription=abc", "--concurrency=lots"}, `--concurrency: expected a valid 64 bit int but got "lots"`},
		{"bad int env", map[string]string{"OPCANCEL_MAX_OUTSTANDING": "many", "OPCANCEL_SUBSCRIPTION": "abc"}, []string{"worker"}, `--max-outstanding: expected a valid 64 bit int but got "many"`},
		{"bad duration", nil, []string{"worker", "--subscription=abc", "--verify-timeout=5 minutes"}, `--verify-timeout: expected duration but got "5 minutes"`},
		{"zero concurrency", nil, []string{"worker", "--project=p", "--subscription=abc", "--concurrency=0"}, "--concurrency 0: must be at least 1"},
		{"negative budget", nil, []string{"worker", "--project=p", "--subscription=abc", "--retry-budget=-1s"}, "--retry-budget -1s: must not be negative"},
		{"bad auth", nil, []string{"worker", "--subscription=abc", "--auth=key"}, `--auth must be one of "adc","none" but got "key"`},
		{"bad log level", nil, []string{"worker", "--subscription=abc", "--log-level=loud"}, `--log-level must be one of`},
		{"no project", nil, []string{"worker", "--subscription=abc"}, `--subscription "abc": no project`},
		{"bad subscription", nil, []string{"worker", "--project=p", "--subscription=a/b"}, `--subscription "a/b": an ID is 3-255 characters`},
		{"short subscription", nil, []string{"worker", "--project=p", "--subscription=ab"}, `--subscription "ab": an ID is 3-255 characters`},
		{"bad results topic", nil, []string{"worker", "--project=p", "--subscription=abc", "--results-topic=projects/p/subscriptions/x"}, `--results-topic "projects/p/subscriptions/x": want an ID or projects/PROJECT/topics/ID`},
		{"http endpoint with adc", nil, []string{"worker", "--project=p", "--subscription=abc", "--config=" + bad}, `is plain http, but --auth=adc sends a bearer token`},
		{"token to a gateway outside Google", nil, []string{"worker", "--project=p", "--subscription=abc", "--config=" + gateway},
			`services[0] (host "vault.googleapis.com"): endpoint: gateway.example.com is outside Google's domain (*.googleapis.com), and --auth=adc would send it a bearer token: if it should get one (a private gateway or proxy), set allowTokenOutsideGoogle: true and the token's scopes in this entry; for an emulator or a fake, use --auth=none`},
		{"token to a typo of Google's domain", nil, []string{"submit", "--topic=projects/p/topics/top", "--config=" + typo, "operations/x"},
			`services[0] (host "vault.googleapi.co"): endpoint: vault.googleapi.co is outside Google's domain`},
		{"host not in the catalog", nil, []string{"worker", "--project=p", "--subscription=abc", "--config=" + unknown}, `a.googleapis.com is not an API of the catalog (opcancel services --all lists the catalog)`},
		{"missing config", nil, []string{"worker", "--project=p", "--subscription=abc", "--config=" + filepath.Join(dir, "none.yaml")}, "--config: services file: open"},
		{"unknown flag", nil, []string{"worker", "--subscription=abc", "--concurency=3"}, "unknown flag --concurency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, code, err := runCLI(t, tt.env, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d (%v), want 2", code, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(oneLine(err), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestFlagsReadTheEnvironmentAndTheCommandLineWins(t *testing.T) {
	t.Parallel()
	// --project from the environment completes a bare subscription ID; a bad
	// value in the environment is overridden by a good one on the command line.
	env := map[string]string{"OPCANCEL_PROJECT": "p1", "OPCANCEL_SUBSCRIPTION": "abc", "OPCANCEL_CONCURRENCY": "zero"}
	_, _, code, err := runCLI(t, env, "worker", "--concurrency=0")
	if code != 2 || !strings.Contains(err.Error(), "--concurrency 0: must be at least 1") {
		t.Errorf("exit %d, %v: the flag should have won over OPCANCEL_CONCURRENCY", code, err)
	}
	env = map[string]string{"GOOGLE_CLOUD_PROJECT": "", "OPCANCEL_SUBSCRIPTION": "abc", "OPCANCEL_RETRY_BUDGET": "-5s", "OPCANCEL_PROJECT": "p1"}
	_, _, _, err = runCLI(t, env, "worker")
	if err == nil || !strings.Contains(err.Error(), "--retry-budget -5s") {
		t.Errorf("OPCANCEL_RETRY_BUDGET not read: %v", err)
	}
	env = map[string]string{"GOOGLE_CLOUD_PROJECT": "gp", "OPCANCEL_SUBSCRIPTION": "abc", "OPCANCEL_RESULTS_TOPIC": "x"}
	_, _, _, err = runCLI(t, env, "worker")
	if err == nil || !strings.Contains(err.Error(), `--results-topic "x"`) {
		t.Errorf("GOOGLE_CLOUD_PROJECT not used, or OPCANCEL_RESULTS_TOPIC not read: %v", err)
	}
}

// TestHelpDocumentsEveryFlag: every flag of every subcommand appears in its
// --help with its default and its environment variable.
func TestHelpDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	commands := map[string]any{"worker": workerCmd{}, "submit": submitCmd{}, "wait": waitCmd{}, "replay": replayCmd{}, "demo": demoCmd{},
		"fake-api": fakeAPICmd{}, "services": servicesCmd{}, "doctor": doctorCmd{}}
	for name, cmd := range commands {
		out, _, code, err := runCLI(t, nil, name, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d, %v", name, code, err)
		}
		flat := strings.Join(strings.Fields(out), " ")
		// The flags of an embedded base (pubsubBase) are the command's own.
		for _, f := range reflect.VisibleFields(reflect.TypeOf(cmd)) {
			if _, positional := f.Tag.Lookup("arg"); positional || f.Anonymous || !f.IsExported() {
				continue
			}
			flag := kebab(f.Name)
			if n := f.Tag.Get("name"); n != "" {
				flag = n
			}
			if !strings.Contains(flat, "--"+flag) {
				t.Errorf("%s --help does not mention --%s", name, flag)
			}
			if !strings.Contains(flat, envVar(flag)) {
				t.Errorf("%s --help does not mention %s", name, envVar(flag))
			}
			d := os.Expand(f.Tag.Get("default"), func(v string) string { return flagDefaults()[v] })
			if d != "" && !strings.Contains(flat, "default "+d) {
				t.Errorf("%s --help does not give --%s's default %s", name, flag, d)
			}
		}
	}
	out, _, _, _ := runCLI(t, nil, "worker", "--help")
	for _, want := range []string{"--concurrency=64", "--max-outstanding=1000", "--verify-timeout=5m", "--retry-budget=2m", `--listen=":9090"`, `--auth="adc"`, `--log-level="info"`, "--shutdown-timeout=25s"} {
		if !strings.Contains(out, want) {
			t.Errorf("worker --help lacks %s", want)
		}
	}
}

func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
