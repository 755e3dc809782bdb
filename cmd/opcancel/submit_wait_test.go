package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/iterator"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// waitSubscriptions lists the temporary subscriptions of submit --wait in
// project.
func waitSubscriptions(t *testing.T, e *queuetest.Emulator, project string) []*pubsubpb.Subscription {
	t.Helper()
	var subs []*pubsubpb.Subscription
	it := e.Client.SubscriptionAdminClient.ListSubscriptions(context.Background(), &pubsubpb.ListSubscriptionsRequest{Project: "projects/" + project})
	for {
		s, err := it.Next()
		if err == iterator.Done {
			return subs
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(s.Name, "/opcancel-wait-") {
			subs = append(subs, s)
		}
	}
}

// TestSubmitWaitEndsWithTheOutcomes: submit --wait publishes, follows the
// result events and exits 0 when every name stopped (a not_found
// included), 3 when one may still run (listed, with its code, in the JSON
// report), and 4 when an outcome is missing at --wait-timeout; its
// temporary subscription is gone after each run.
func TestSubmitWaitEndsWithTheOutcomes(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	apis := waitAPIs(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	_, logs, stop := startWorker(t, e, "--subscription="+ps.sub, "--results-topic="+ps.results, "--config="+apis.config, "--verify-timeout=60s", "--shutdown-timeout=0s")
	env := map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}
	submit := func(args ...string) (string, string, int) {
		out, errb, code, _ := runCLI(t, env, append([]string{"submit", "--wait", "--topic=" + ps.topic, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches,
			"--config=" + apis.config, "--auth=none"}, args...)...)
		if subs := waitSubscriptions(t, e, ps.project); len(subs) > 0 {
			t.Errorf("temporary subscriptions left: %v", subs)
		}
		return out, errb, code
	}

	out, errb, code := submit("operations/w-1", "operations/w-2", devOps+"w-3", "operations/w-completed", "operations/w-missing", "operations/w-1")
	if code != 0 {
		t.Errorf("every name stopped: exit %d\n%s\n%s\n%s", code, out, errb, logs)
	}
	// w-1 twice: the second is a duplicate, or cancelled again if the
	// first was over; the name is cancelled either way.
	counts := reportCounts(out)
	if counts["cancelled"]+counts["duplicate"] != 4 || counts["completed"] != 1 || counts["not_found"] != 1 || counts["total"] != 6 {
		t.Errorf("outcomes %v:\n%s", counts, out)
	}
	for _, want := range []string{"published: 6, invalid: 0", "1 names did not end cancelled or completed",
		"vault.googleapis.com  operations/w-missing  not_found  NOT_FOUND"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}

	out, errb, code = submit("--output=json", "operations/w-refused", "operations/w-1")
	var r batchReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--output json: %v\n%s", err, out)
	}
	if code != 3 || len(r.Names) != 1 || r.Names[0].Name != "operations/w-refused" || r.Names[0].Outcome != "not_cancellable" ||
		r.Names[0].Code != "FAILED_PRECONDITION" || r.Outcomes["cancelled"] != 1 {
		t.Errorf("one not_cancellable: exit %d, %+v\n%s", code, r, errb)
	}

	start := time.Now()
	out, errb, code = submit("--wait-timeout=2s", "operations/w-slow")
	if code != 4 || reportCounts(out)["(no outcome)"] != 1 || !strings.Contains(out, "operations/w-slow  (none)") {
		t.Errorf("an outcome missing at the timeout: exit %d\n%s\n%s", code, out, errb)
	}
	if took := time.Since(start); took > 2*time.Second+untilPublished {
		t.Errorf("--wait-timeout=2s took %s", took)
	}
	if err := stop(); err != nil {
		t.Errorf("worker: %v", err)
	}
}

// waitAPIs are the fake APIs of TestSubmitWaitEndsWithTheOutcomes.
func waitAPIs(t *testing.T) *fakeAPIs {
	apis := newFakeAPIs(t, lrotest.Options{}, lrotest.Options{}, "")
	for _, n := range []string{"operations/w-1", "operations/w-2"} {
		apis.vault.Set(n, lrotest.Script{})
	}
	apis.amapi.Set(devOps+"w-3", lrotest.Script{})
	apis.vault.Set("operations/w-completed", lrotest.Script{Final: lrotest.Completed})
	apis.vault.Set("operations/w-refused", lrotest.Script{Cancel: []lrotest.Answer{lrotest.Err(lro.FailedPrecondition, "cannot cancel")}, DoneAfterPolls: lrotest.Never})
	apis.vault.Set("operations/w-slow", lrotest.Script{DoneAfterPolls: lrotest.Never})
	return apis
}

// reportCounts reads the outcome table of a text report: outcome → requests.
func reportCounts(out string) map[string]int {
	counts := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			break // the table ends at the blank line
		}
		if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
			counts[strings.Join(f[:len(f)-1], " ")] = n
		}
	}
	return counts
}

// TestSubmitWaitDeletesItsSubscriptionOnInterrupt: Ctrl-C while waiting
// ends submit and deletes its temporary subscriptions.
func TestSubmitWaitDeletesItsSubscriptionOnInterrupt(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"submit", "--wait", "--topic=" + ps.topic, "--results-topic=" + ps.results, "--batches-topic=" + ps.batches,
			"--batch=interrupted", "operations/no-worker"},
			getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": e.Host}), strings.NewReader(""), out, &syncBuffer{})
	}()
	// No worker: once published, it waits until interrupted.
	waitFor(t, "the message published", untilPublished, func() bool { return strings.Contains(out.String(), "published: 1") })
	// While waiting: one subscription, to the results topic, filtered on
	// the batch, that expires by itself a day after a killed run. (Its
	// manifest, submit --wait takes from its own run, not from the
	// batches topic.)
	subs := waitSubscriptions(t, e, ps.project)
	if len(subs) != 1 {
		t.Fatalf("temporary subscriptions while waiting: %v, want one", subs)
	}
	if s := subs[0]; s.Topic != ps.results || s.Filter != `attributes.batch = "interrupted"` || s.GetExpirationPolicy().GetTtl().AsDuration() != 24*time.Hour {
		t.Errorf("temporary subscription to %s: filter %s, expiration %v; want one to %s, the batch's filter, 24h",
			s.Topic, s.Filter, s.GetExpirationPolicy().GetTtl().AsDuration(), ps.results)
	}
	cancel()
	select {
	case err := <-done:
		if exitCode(err) != 1 {
			t.Errorf("interrupted: exit %d (%v), want 1", exitCode(err), err)
		}
	case <-time.After(untilPublished):
		t.Fatal("submit --wait did not end when interrupted")
	}
	if subs := waitSubscriptions(t, e, ps.project); len(subs) != 0 {
		t.Errorf("temporary subscriptions left after the interrupt: %v", subs)
	}
}
