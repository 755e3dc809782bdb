package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opcancel/lro/lrotest"
)

// journalSize is the size of a new journal of batch, on topic, listing
// names (bare Vault names): its header, with the longest start time, and
// its list.
func journalSize(batch, topic string, names []string) int {
	h, _ := json.Marshal(journalHeader{Journal: journalKind, Version: journalVersion, Batch: batch, Topic: topic,
		StartedAt: time.Date(2026, 12, 22, 22, 22, 22, 999999999, time.UTC), Names: len(names)})
	size := len(h) + 1
	for i, n := range names {
		l, _ := json.Marshal(journalLine{Plan: i + 1, Service: vaultHost, Name: n})
		size += len(l) + 1
	}
	return size
}

// TestSubmitWhoseJournalCannotBeWrittenIsResumedOnce: a journal that can
// no longer be written (a full disk: here the file size limit) stops
// submit --journal: it exits 1 saying how many names it did not try and
// how to resume, and its batch is not over for wait (exit 4, not 0 with
// the names published so far). The resumed run publishes the rest, and
// the batch, followed by wait, has each name once: the first run's
// manifest lists only the messages whose journal lines were synced.
func TestSubmitWhoseJournalCannotBeWrittenIsResumedOnce(t *testing.T) {
	t.Parallel()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) sets the file size limit of the submit that fails:", err)
	}
	e := emulator(t)
	ps := newPubsubKeepingResults(t, e)
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "") // every operation: not_found
	_, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config}, e2eLimits.args()...)...)
	defer stop()
	const n, batch = 100, "journal-full"
	dir := t.TempDir()
	namesFile, journal := filepath.Join(dir, "names.txt"), filepath.Join(dir, "batch.journal")
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("operations/jf-%03d", i))
	}
	if err := os.WriteFile(namesFile, []byte(strings.Join(names, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	common := []string{"--topic=" + ps.topic, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches, "--config=" + apis.config,
		"--auth=none", "--journal=" + journal}

	// The first run may write its list and about 15 published lines.
	limit := journalSize(batch, ps.topic, names) + 1500
	cmd := exec.Command(prlimit, append([]string{fmt.Sprintf("--fsize=%d", limit), "--", binary(t), "submit", "--file=" + namesFile,
		"--batch=" + batch, "--rate=20"}, common...)...)
	cmd.Env = append(os.Environ(), "PUBSUB_EMULATOR_HOST="+e.Host)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(errb.String(), "not tried") ||
		!strings.Contains(errb.String(), "--journal "+journal+" to publish the rest") {
		t.Fatalf("a journal that cannot be written: exit %d (%v), want 1 saying how many names were not tried and how to resume\n%s\n%s", code, err, out.String(), errb.String())
	}
	published := len(journalRecords(t, journal))
	if published == 0 || published >= n {
		t.Fatalf("the journal records %d of %d names: the run did not stop half way\n%s", published, n, errb.String())
	}

	wait := []string{"wait", "--batch=" + batch, "--since=1h", "--results-topic=" + ps.results, "--batches-topic=" + ps.batches}
	// Its timeout must outlast reading the manifest, or wait ends saying
	// it found none: it once did at 2 s on a busy machine.
	_, _, code, err := runCLI(t, env, append(wait, "--wait-timeout="+untilPublished.String())...)
	if code != 4 || !strings.Contains(err.Error(), "its publishing had not ended") {
		t.Errorf("wait on the stopped batch: exit %d (%v), want 4 saying that its publishing had not ended", code, err)
	}

	resumed, errs, code := runCLIChecked(t, e, ps.project, env, append([]string{"submit", "--wait", "--wait-timeout=" + e2eLimits.job().String()}, common...)...)
	if code != 0 {
		t.Errorf("resumed: exit %d\n%s\n%s\n%s", code, resumed, errs, logs)
	}
	attached, errs, code := runCLIChecked(t, e, ps.project, env, append(wait, "--wait-timeout="+untilPublished.String())...)
	if c := reportCounts(attached); code != 0 || c["total"] != n || c["not_found"] != n {
		t.Errorf("wait after the resume: exit %d, %v; want 0 and each of the %d names once\n%s\n%s", code, c, n, attached, errs)
	}
}
