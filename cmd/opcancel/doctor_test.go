package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestDoctorPassesWhereAllIsWell: in a world set up as the kit sets it up,
// every check passes (the quota project does not apply to a service
// account) and the doctor exits 0.
func TestDoctorPassesWhereAllIsWell(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	r := w.run(t, nil)
	want := []string{"credentials", "subscription", "consume", "results topic", "dead-letter policy", "dead-letter topic", "Pub/Sub service agent",
		"batches topic", "results topic retention", "batches topic retention", "quota project", "token " + vaultHost, "endpoint " + vaultHost, "token " + amapiHost, "endpoint " + amapiHost}
	var got []string
	for _, c := range r.Checks {
		got = append(got, c.Name)
		if c.Status != checkOK && !(c.Name == "quota project" && c.Status == checkSkip) {
			t.Errorf("check %s: %s, %s", c.Name, c.Status, c.Detail)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("checks %v, want %v", got, want)
	}
	if r.code != 0 || !r.OK {
		t.Errorf("exit %d, ok %v, stderr %q; want 0", r.code, r.OK, r.stderr)
	}
	if c := r.check(t, "token "+vaultHost); !strings.Contains(c.Detail, "ediscovery") {
		t.Errorf("the token check does not say for which scope: %q", c.Detail)
	}
}

// TestDoctorFindsEachFailure injects one failure at a time into a world
// where all is well: the check it breaks fails, with the command that
// fixes it, and the doctor exits 1 saying how many failed.
func TestDoctorFindsEachFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// breakIt injects the failure; it returns extra environment and flags.
		breakIt func(w *doctorWorld) (env, args []string)
		check   string
		detail  string
		fix     string
		// notFix is what the fix must not say.
		notFix string
	}{
		{
			name: "the subscription does not exist",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				return nil, []string{"--subscription=projects/" + w.project + "/subscriptions/missing"}
			},
			check: "subscription", detail: "/subscriptions/missing does not exist", fix: "SUBSCRIPTION=missing deploy/pubsub/provision.sh",
		},
		{
			name: "one of the partitions does not exist",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				return nil, []string{"--subscription=projects/" + w.project + "/subscriptions/missing," + w.sub}
			},
			check: "subscription", detail: "/subscriptions/missing does not exist", fix: "SUBSCRIPTION=missing deploy/pubsub/provision.sh",
		},
		{
			name:    "the worker may not consume (IAM injected)",
			breakIt: func(w *doctorWorld) ([]string, []string) { w.iam.granted[w.sub] = nil; return nil, nil },
			check:   "consume", detail: "lacks pubsub.subscriptions.consume",
			fix: "gcloud pubsub subscriptions add-iam-policy-binding worker --project=%P --member=serviceAccount:opcancel@sec-proj.iam.gserviceaccount.com --role=roles/pubsub.subscriber",
		},
		{
			name:    "the worker may not publish results (IAM injected)",
			breakIt: func(w *doctorWorld) ([]string, []string) { w.iam.granted[w.results] = nil; return nil, nil },
			check:   "results topic", detail: "lacks pubsub.topics.publish",
			fix: "gcloud pubsub topics add-iam-policy-binding results --project=%P --member=serviceAccount:opcancel@sec-proj.iam.gserviceaccount.com --role=roles/pubsub.publisher",
		},
		{
			name:    "the subscription has no dead-letter policy",
			breakIt: func(w *doctorWorld) ([]string, []string) { return nil, []string{"--subscription=" + w.noDLQs} },
			check:   "dead-letter policy", detail: "has none", fix: "SUBSCRIPTION=no-dead-letters deploy/pubsub/provision.sh",
		},
		{
			name:    "the dead-letter topic does not exist (IAM injected)",
			breakIt: func(w *doctorWorld) ([]string, []string) { delete(w.iam.granted, w.dlt); return nil, nil },
			check:   "dead-letter topic", detail: "dead-letter does not exist", fix: "gcloud pubsub topics create dead-letter --project=%P",
		},
		{
			name: "the service agent may not publish dead letters (IAM injected)",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				w.iam.policies[w.dlt] = &iampb.Policy{}
				return nil, nil
			},
			check: "Pub/Sub service agent", detail: "may not publish to projects/%P/topics/dead-letter",
			fix: "gcloud pubsub topics add-iam-policy-binding dead-letter --project=%P --member=serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com --role=roles/pubsub.publisher",
		},
		{
			name: "the service agent has no role at all (IAM injected)",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				w.iam.policies[w.dlt] = &iampb.Policy{}
				w.iam.policies[w.sub] = &iampb.Policy{Bindings: []*iampb.Binding{{Role: "roles/pubsub.subscriber", Members: []string{w.member}}}}
				return nil, nil
			},
			check: "Pub/Sub service agent", detail: "nor subscribe to",
			fix: `--member="serviceAccount:service-$(gcloud projects describe %P --format='value(projectNumber)')@gcp-sa-pubsub.iam.gserviceaccount.com" --role=roles/pubsub.subscriber`,
		},
		{
			name: "the batches topic does not exist",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				return nil, []string{"--batches-topic=projects/" + w.project + "/topics/missing-batches"}
			},
			check: "batches topic", detail: "/topics/missing-batches does not exist",
			fix: "gcloud pubsub topics create missing-batches --project=%P --message-retention-duration=7d",
		},
		{
			name:    "the results topic keeps no messages",
			breakIt: func(w *doctorWorld) ([]string, []string) { return nil, []string{"--results-topic=" + w.unkept} },
			check:   "results topic retention", detail: "/topics/unkept keeps no messages",
			fix: "gcloud pubsub topics update unkept --project=%P --message-retention-duration=7d",
		},
		{
			name:    "the batches topic keeps no messages",
			breakIt: func(w *doctorWorld) ([]string, []string) { return nil, []string{"--batches-topic=" + w.unkept} },
			check:   "batches topic retention", detail: "/topics/unkept keeps no messages",
			fix: "gcloud pubsub topics update unkept --project=%P --message-retention-duration=7d",
		},
		{
			name: "domain-wide delegation is not granted",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				w.creds.refuseDelegation.Store(true)
				w.serviceExtra = map[string]string{vaultHost: "subject: admin@example.com"}
				return nil, nil
			},
			check: "token " + vaultHost, detail: "unauthorized_client", fix: "Domain-wide delegation",
		},
		{
			name: "an endpoint that is not Google's",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				proxy := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
					http.Error(rw, "<html><body>404 page not found (nginx)</body></html>", http.StatusNotFound)
				}))
				t.Cleanup(proxy.Close)
				w.amapiURL = proxy.URL
				return nil, nil
			},
			check: "endpoint " + amapiHost, detail: "not Google's API", fix: "opcancel services --config=",
		},
		{
			name: "the API is not enabled in the project",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				w.answerVault(t, lrotest.Answer{Code: lro.PermissionDenied, Reason: "SERVICE_DISABLED",
					Message: "Google Vault API has not been used in project 123456789 before or it is disabled. Enable it by visiting the console then retry."})
				return nil, nil
			},
			check: "endpoint " + vaultHost, detail: "SERVICE_DISABLED", fix: "gcloud services enable vault.googleapis.com --project=123456789",
		},
		{
			name: "the API rejects the token (401)",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				w.answerVault(t, lrotest.Err(lro.Unauthenticated, "Request had invalid authentication credentials."))
				return nil, nil
			},
			check: "token " + vaultHost, detail: "rejected the token", fix: "print-access-token", notFix: "enable",
		},
		{
			name: "user credentials without a quota project",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				user, _ := json.Marshal(map[string]string{"type": "authorized_user", "client_id": "c", "client_secret": "s",
					"refresh_token": "r", "token_uri": w.creds.tokenURL})
				file := filepath.Join(t.TempDir(), "user.json")
				os.WriteFile(file, user, 0o600)
				return []string{"GOOGLE_APPLICATION_CREDENTIALS=" + file}, nil
			},
			check: "quota project", detail: "without a quota project", fix: "gcloud auth application-default set-quota-project %P",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newDoctorWorld(t)
			env, args := tt.breakIt(w)
			r := w.run(t, env, args...)
			c := r.check(t, tt.check)
			expand := func(s string) string { return strings.ReplaceAll(s, "%P", w.project) }
			if c.Status != checkFail || !strings.Contains(c.Detail, expand(tt.detail)) || !strings.Contains(c.Fix, expand(tt.fix)) ||
				tt.notFix != "" && strings.Contains(c.Fix, tt.notFix) {
				t.Errorf("check %s: %s, %q, fix %q; want fail, %q, fix %q", tt.check, c.Status, c.Detail, c.Fix, expand(tt.detail), expand(tt.fix))
			}
			if r.code != 1 || r.OK || !strings.Contains(r.stderr, "checks failed") {
				t.Errorf("exit %d, ok %v, stderr %q; want 1", r.code, r.OK, r.stderr)
			}
			for _, other := range r.Checks {
				if other.Status == checkFail && other.Name != tt.check && !strings.HasPrefix(other.Name, "credentials") {
					t.Errorf("check %s fails too: %s", other.Name, other.Detail)
				}
			}
		})
	}
}

// TestDoctorOnTheEmulatorAlone: the emulator answers every IAM method
// UNIMPLEMENTED; the doctor says so and skips those checks rather than
// failing, so it passes against an emulator and fakes with --auth=none.
func TestDoctorOnTheEmulatorAlone(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	fake := httptest.NewServer(lrotest.New(lrotest.Options{}))
	t.Cleanup(fake.Close)
	config := filepath.Join(t.TempDir(), "services.yaml")
	os.WriteFile(config, []byte(lrotest.ServicesYAML(lrotest.AllAt(fake.URL), nil)), 0o600)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"doctor", "--auth=none", "--subscription=" + w.sub, "--results-topic=" + w.results, "--config=" + config},
		getenvFrom(map[string]string{"PUBSUB_EMULATOR_HOST": w.e.Host}), strings.NewReader(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, stdout.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"ok    subscription: " + w.sub + " exists\n",
		"skip  consume: pubsub.subscriptions.consume on " + w.sub + " not checked: the Pub/Sub emulator (PUBSUB_EMULATOR_HOST) has no IAM\n",
		"ok    dead-letter policy: " + w.dlt + " after 20 delivery attempts\n",
		"skip  Pub/Sub service agent: ",
		"skip  batches topic: no --batches-topic: ",
		"skip  token " + vaultHost + ": --auth=none sends no token\n",
		"ok    endpoint " + vaultHost + ": operations.get of operations/opcancel-doctor-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

// TestDoctorEscapesWhatAPIsSay: an API's text reaches the report escaped
// (the text form prints the same details): no terminal escape, no
// bidirectional override, no line break.
func TestDoctorEscapesWhatAPIsSay(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	hostile := "denied \x1b[2J\x1b[31mFAKE OK\u202e\r\n"
	w.answerVault(t, lrotest.Err(lro.PermissionDenied, hostile))
	r := w.run(t, nil)
	c := r.check(t, "endpoint "+vaultHost)
	if c.Status != checkWarn || !strings.Contains(c.Detail, `denied \x1b[2J\x1b[31mFAKE OK\u202e\r\n`) {
		t.Errorf("endpoint check: %s, %q; want a warning quoting the answer escaped", c.Status, c.Detail)
	}
	for _, c := range r.Checks {
		if strings.ContainsAny(c.Detail+c.Fix, "\x1b\u202e\r\n") {
			t.Errorf("check %s carries a raw control character: %q", c.Name, c.Detail)
		}
	}
}

// TestDoctorWarnsOfWhatWaitCannotReach: a topic that keeps its messages
// for less than a day, and topics the doctor may not read (GetTopic
// refused, injected), are warnings with their fix, not failures: the
// worker does not need them, and the batches topic's existence is then
// told by the permission test.
func TestDoctorWarnsOfWhatWaitCannotReach(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		args    []string
		refuse  bool
		check   string
		details []string
		fix     string
	}{
		{name: "two hours", args: []string{"--batches-topic=%S"}, check: "batches topic retention",
			details: []string{"/topics/short-kept keeps its messages for 2h only"},
			fix:     "gcloud pubsub topics update short-kept --project=%P --message-retention-duration=7d"},
		{name: "may not read the topics", refuse: true, check: "results topic retention",
			details: []string{"may not read projects/%P/topics/results (pubsub.topics.get)"},
			fix:     "gcloud pubsub topics add-iam-policy-binding results --project=%P --member=serviceAccount:opcancel@sec-proj.iam.gserviceaccount.com --role=roles/pubsub.viewer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newDoctorWorld(t)
			expand := strings.NewReplacer("%P", w.project, "%S", w.shortKept).Replace
			if tt.refuse {
				w.iam.refuse = map[string]codes.Code{"GetTopic": codes.PermissionDenied}
			}
			var args []string
			for _, a := range tt.args {
				args = append(args, expand(a))
			}
			r := w.run(t, nil, args...)
			c := r.check(t, tt.check)
			for _, d := range tt.details {
				if c.Status != checkWarn || !strings.Contains(c.Detail, expand(d)) || c.Fix != expand(tt.fix) {
					t.Errorf("check %s: %s, %q, fix %q; want warn, %q, fix %q", tt.check, c.Status, c.Detail, c.Fix, expand(d), expand(tt.fix))
				}
			}
			if tt.refuse {
				if c := r.check(t, "batches topic"); c.Status != checkOK {
					t.Errorf("batches topic: %s, %q; want ok by the permission test", c.Status, c.Detail)
				}
			}
			if r.code != 0 || !r.OK {
				t.Errorf("exit %d, ok %v, stderr %q; want 0: warnings fail nothing", r.code, r.OK, r.stderr)
			}
		})
	}
}
