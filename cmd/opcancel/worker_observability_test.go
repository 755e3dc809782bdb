package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"opcancel/lro/lrotest"
)

// TestWorkerExportsBuildInfoAndJobDurationPerService: a running worker says
// what binary it is, and times each job under its service.
func TestWorkerExportsBuildInfoAndJobDurationPerService(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/b1", lrotest.Script{})
	api := httptest.NewServer(fake)
	defer api.Close()
	w := newPstestWorld(t, api.URL)
	admin, logs := w.start(t)
	w.publish(t, "operations/b1")
	cancelled := map[string]string{"service": "vault.googleapis.com", "outcome": "cancelled"}
	waitFor(t, "the cancel's outcome", 30*time.Second, func() bool {
		return value(scrape(t, admin), "opcancel_jobs_total", cancelled) == 1
	})
	fams := scrape(t, admin)
	count := func(service string) float64 {
		return value(fams, "opcancel_job_duration_seconds", map[string]string{"__name__": "opcancel_job_duration_seconds_count", "service": service, "outcome": "cancelled"})
	}
	if got := count("vault.googleapis.com"); got != 1 {
		t.Errorf("opcancel_job_duration_seconds_count%v = %v, want 1\n%s", cancelled, got, logs)
	}
	if got := count("androidmanagement.googleapis.com"); got != 0 {
		t.Errorf("the other service's duration series = %v, want 0 from start-up", got)
	}
	build := map[string]string{"version": version, "commit": commit, "goversion": runtime.Version()}
	if got := value(fams, "opcancel_build_info", build); got != 1 {
		t.Errorf("opcancel_build_info%v = %v, want 1", build, got)
	}
}

// TestDebugListenServesProfilesTheAdminPortNever: with --debug-listen a
// goroutine dump is one GET away (the image has no shell to send SIGQUIT
// from); the admin port serves no profile; the two cannot be one address.
func TestDebugListenServesProfilesTheAdminPortNever(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(lrotest.New(lrotest.Options{}))
	defer api.Close()
	w := newPstestWorld(t, api.URL)
	admin, logs := w.start(t, "--debug-listen=127.0.0.1:0")
	var debug string
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Message, Debug string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "worker starting" {
			debug = l.Debug
		}
	}
	if debug == "" {
		t.Fatalf("the start-up line names no debug address:\n%s", logs)
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, dump := get("http://" + debug + "/debug/pprof/goroutine?debug=2")
	if code != http.StatusOK || !strings.Contains(dump, "goroutine ") || !strings.Contains(dump, "opcancel/worker.") {
		t.Errorf("goroutine dump: %d\n%.500s", code, dump)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=2"} {
		if code := status(admin, path); code != http.StatusNotFound {
			t.Errorf("the admin port answers %s with %d, want 404", path, code)
		}
	}
	const addr = "127.0.0.1:9090"
	_, _, code, err := runCLI(t, nil, "worker", "--subscription=projects/p/subscriptions/sub", "--listen="+addr, "--debug-listen="+addr)
	if code != 2 || err == nil || !strings.Contains(err.Error(), "--debug-listen "+addr+": must differ from --listen") {
		t.Errorf("--debug-listen = --listen: exit %d, %v", code, err)
	}
}

// TestDebugListenIsLoopbackUnlessOptedOut: profiles are served on loopback
// only; any other address (every interface, the pod's) is a usage error
// naming the flag that allows it, and with that flag it is accepted. A
// name, localhost too, is refused: /etc/hosts or DNS decide what it is.
func TestDebugListenIsLoopbackUnlessOptedOut(t *testing.T) {
	t.Parallel()
	for addr, loopback := range map[string]bool{
		"127.0.0.1:6060": true, "127.0.0.2:0": true, "[::1]:6060": true, "[::ffff:127.0.0.1]:6060": true,
		":6060": false, "0.0.0.0:6060": false, "[::]:6060": false, "10.4.0.7:6060": false, "opcancel-0:6060": false, "[::ffff:10.0.0.1]:6060": false,
		"localhost:6060": false, "localhost.:6060": false,
	} {
		if err := checkDebugListen(addr, false); (err == nil) != loopback {
			t.Errorf("--debug-listen=%s: %v, want accepted %v", addr, err, loopback)
		}
		if err := checkDebugListen(addr, true); err != nil {
			t.Errorf("--debug-listen=%s --debug-listen-non-loopback: %v", addr, err)
		}
	}
	if err := checkDebugListen("localhost:6060", false); err == nil || !strings.Contains(err.Error(), "write the address, 127.0.0.1:PORT") {
		t.Errorf("--debug-listen=localhost:6060: %v, want a usage error saying what to write", err)
	}
	if err := checkDebugListen("6060", true); err == nil || exitCode(err) != 2 {
		t.Errorf("--debug-listen=6060 (no host:port): %v, want a usage error", err)
	}
	args := []string{"worker", "--subscription=projects/p/subscriptions/sub", "--debug-listen=:6060"}
	_, _, code, err := runCLI(t, nil, args...)
	if code != 2 || err == nil || !strings.HasPrefix(err.Error(), "--debug-listen :6060: not a loopback address") || !strings.Contains(err.Error(), "--debug-listen-non-loopback") {
		t.Errorf("--debug-listen=:6060: exit %d, %v; want exit 2 naming --debug-listen-non-loopback", code, err)
	}
	// With the opt-in, the check passes and the next one (the services
	// file) speaks.
	_, _, code, err = runCLI(t, map[string]string{"OPCANCEL_DEBUG_LISTEN_NON_LOOPBACK": "true"}, append(args, "--config=/nonexistent/services.yaml")...)
	if code != 2 || err == nil || !strings.HasPrefix(err.Error(), "--config:") {
		t.Errorf("--debug-listen=:6060 with OPCANCEL_DEBUG_LISTEN_NON_LOOPBACK=true: exit %d, %v; want the services file's error", code, err)
	}
}
