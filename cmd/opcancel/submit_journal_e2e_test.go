package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// TestSubmitJournalResumesAnInterruptedSubmit: submit --journal,
// interrupted (Ctrl-C) half way, leaves a journal that records exactly the
// messages the server has; run again with the journal alone, it publishes
// only the rest, under the same batch, so that the request topic has
// exactly one message per name; its --wait reports the whole batch, the
// first run's names too, and so does wait --batch afterwards.
func TestSubmitJournalResumesAnInterruptedSubmit(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsubKeepingResults(t, e)
	counter := "projects/" + ps.project + "/subscriptions/counter"
	if err := e.Subscription(context.Background(), ps.topic, counter); err != nil {
		t.Fatal(err)
	}
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "") // every operation: not_found
	_, logs, stop := startWorker(t, e, append([]string{"--subscription=" + ps.sub, "--results-topic=" + ps.results, "--config=" + apis.config}, e2eLimits.args()...)...)
	const n = 300
	dir := t.TempDir()
	names, journal := filepath.Join(dir, "names.txt"), filepath.Join(dir, "batch.journal")
	var list strings.Builder
	for i := range n {
		fmt.Fprintf(&list, "operations/resume-%03d\n", i)
	}
	if err := os.WriteFile(names, []byte(list.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	common := []string{"--topic=" + ps.topic, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches, "--config=" + apis.config,
		"--auth=none", "--journal=" + journal}

	// The first run, at 50 messages a second, is interrupted once the
	// journal has 20.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"submit", "--file=" + names, "--rate=50"}, common...), getenvFrom(env), strings.NewReader(""), &syncBuffer{}, &syncBuffer{})
	}()
	waitFor(t, "20 messages in the journal", untilPublished, func() bool { return len(journalRecords(t, journal)) >= 20 })
	cancel()
	var err error
	waitFor(t, "the interrupted submit to end", untilPublished, func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "--journal "+journal+" to publish the rest") {
		t.Errorf("interrupted: exit %d (%v), want 1 and how to resume", exitCode(err), err)
	}
	first := journalRecords(t, journal)
	if len(first) >= n {
		t.Fatalf("the journal has all %d names: the run was not interrupted half way", n)
	}
	// Exactly what the server has: each recorded message on the topic,
	// and no other.
	onTopic := countByName(t, e, counter, nil)
	for name, id := range first {
		if onTopic[name] != 1 {
			t.Errorf("%s (message %s) is in the journal, %d times on the topic", name, id, onTopic[name])
		}
	}
	if len(onTopic) != len(first) {
		t.Errorf("after the interrupt: %d names on the topic, %d in the journal", len(onTopic), len(first))
	}

	// Meanwhile wait says that the batch's publishing has not ended, at
	// its timeout, with what it has.
	var header journalHeader
	if b, err := os.ReadFile(journal); err != nil || json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &header) != nil {
		t.Fatalf("the journal's header: %v", err)
	}
	// Its timeout must outlast reading the manifest (see
	// TestSubmitWhoseJournalCannotBeWrittenIsResumedOnce).
	_, _, code, err := runCLI(t, env, "wait", "--batch="+header.Batch, "--results-topic="+ps.results, "--batches-topic="+ps.batches, "--wait-timeout="+untilPublished.String())
	if code != 4 || !strings.Contains(err.Error(), fmt.Sprintf("batch %s: its publishing had not ended by --wait-timeout", header.Batch)) {
		t.Errorf("wait on the interrupted batch: exit %d (%v), want 4 saying that its publishing had not ended", code, err)
	}

	// The second run: the journal alone.
	out, errb, code := runCLIChecked(t, e, ps.project, env, append([]string{"submit", "--wait", "--wait-timeout=" + e2eLimits.job().String()}, common...)...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("published: %d (%d earlier), invalid: 0, failed: 0", n-len(first), len(first))) {
		t.Errorf("resumed: exit %d\n%s\n%s\n%s", code, out, errb, logs)
	}
	if counts := reportCounts(out); counts["not_found"] != n || counts["total"] != n {
		t.Errorf("resumed: the report does not cover the whole batch of %d: %v\n%s", n, counts, out)
	}
	countByName(t, e, counter, onTopic)
	for i := range n {
		if name := fmt.Sprintf("operations/resume-%03d", i); onTopic[name] != 1 {
			t.Errorf("%s: %d messages on the topic, want 1", name, onTopic[name])
		}
	}
	if len(journalRecords(t, journal)) != n {
		t.Errorf("the journal does not record all %d names", n)
	}

	attached, errb, code := runCLIChecked(t, e, ps.project, env, "wait", "--batch="+batchOf(t, out), "--results-topic="+ps.results,
		"--batches-topic="+ps.batches, "--wait-timeout="+untilPublished.String())
	if code != 0 || attached != out {
		t.Errorf("wait --batch: exit %d, want 0 and the resumed submit's output\n%s\n%s", code, attached, errb)
	}
	if err := stop(); err != nil {
		t.Errorf("worker: %v", err)
	}
}

// journalRecords reads the published lines of a journal: name → message
// ID. A line still being written is left out.
func journalRecords(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	lines := bytes.Split(b, []byte("\n"))
	for _, l := range lines[:len(lines)-1] {
		var r journalLine
		if json.Unmarshal(l, &r) == nil && r.Published > 0 {
			if _, dup := got[r.Name]; dup {
				t.Errorf("journal: %s recorded twice", r.Name)
			}
			got[r.Name] = r.MessageID
		}
	}
	return got
}

// countByName drains sub and adds the messages it had, by the name they
// carry, to into (a new map if nil).
func countByName(t *testing.T, e *queuetest.Emulator, sub string, into map[string]int) map[string]int {
	t.Helper()
	if into == nil {
		into = map[string]int{}
	}
	msgs, err := e.Drain(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		var req struct{ Name string }
		if err := json.Unmarshal(m.Message.Data, &req); err != nil {
			t.Fatalf("message %q: %v", m.Message.Data, err)
		}
		into[req.Name]++
	}
	return into
}
