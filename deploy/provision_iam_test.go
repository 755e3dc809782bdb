package deploy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"

	"opcancel/internal/e2etest"
	"opcancel/lro/lrotest"
)

// The provisioning script's IAM plan, checked on the fake gcloud: who may
// do what, where. The emulator has no IAM, so the bindings the script
// makes are evaluated here, with the permissions of the predefined roles
// it grants (as Google documents them) and of the custom role it creates.

// predefinedRoles are the Pub/Sub permissions of the predefined roles the
// script may grant; a binding of any other role fails the test.
var predefinedRoles = map[string][]string{
	"roles/pubsub.publisher":  {"pubsub.topics.publish"},
	"roles/pubsub.subscriber": {"pubsub.snapshots.seek", "pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"},
	"roles/pubsub.viewer": {"pubsub.schemas.get", "pubsub.schemas.list", "pubsub.snapshots.get", "pubsub.snapshots.list",
		"pubsub.subscriptions.get", "pubsub.subscriptions.list", "pubsub.topics.get", "pubsub.topics.list"},
}

// The parties of TestProvisioningGrantsLeastPrivilege.
const (
	iamProject  = "p"
	waitProject = "p-wait"
	workerSA    = "serviceAccount:opcancel@p.iam.gserviceaccount.com"
	agent       = "serviceAccount:service-1234567890@gcp-sa-pubsub.iam.gserviceaccount.com"
	publisher1  = "serviceAccount:bot@p.iam.gserviceaccount.com"
	publisher2  = "group:publishers@example.com"
	waitUser    = "group:sre@example.com"
	replayer    = "user:lead@example.com"
)

// Resources of the default names.
const (
	requestTopic  = "projects/p/topics/opcancel-requests"
	workerSub     = "projects/p/subscriptions/opcancel-worker"
	resultsTopic  = "projects/p/topics/opcancel-results"
	batchesTopic  = "projects/p/topics/opcancel-batches"
	resultsSub    = "projects/p/subscriptions/opcancel-results"
	deadLetters   = "projects/p/topics/opcancel-dead-letter"
	deadLetterSub = "projects/p/subscriptions/opcancel-dead-letter"
	// a temporary subscription of submit --wait, in the wait project
	waitSub = "projects/p-wait/subscriptions/opcancel-wait-b1-0a1b2c3d"
)

// provisionIAM runs the script on the fake gcloud with the extra
// environment and returns its output and error.
func provisionIAM(t *testing.T, fakeEnv []string, extra ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join("pubsub", "provision.sh"))
	cmd.Env = append(os.Environ(), "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB=", "PROJECT="+iamProject)
	cmd.Env = append(append(cmd.Env, fakeEnv...), extra...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestProvisioningGrantsLeastPrivilege: each party gets what its commands
// use and no more; above all, no one but the worker (and the Pub/Sub
// service agent, which dead-letters) may consume the worker's
// subscription. A second run creates nothing and binds nothing new.
func TestProvisioningGrantsLeastPrivilege(t *testing.T) {
	t.Parallel()
	fakeEnv, state := fakeGcloudPath(t)
	parties := []string{"WORKER_SA=opcancel@p.iam.gserviceaccount.com", "PUBLISHERS=" + publisher1 + " " + publisher2,
		"WAIT_USERS=" + waitUser, "WAIT_PROJECT=" + waitProject, "REPLAY_OPERATORS=" + replayer}
	var first *gcloudState
	for run := range 2 {
		if out, err := provisionIAM(t, fakeEnv, parties...); err != nil {
			t.Fatalf("run %d: %v\n%s", run+1, err, out)
		}
		s, err := readGcloudState(state)
		if err != nil {
			t.Fatal(err)
		}
		if run == 0 {
			first = s
			continue
		}
		if created := (&gcloudState{Calls: s.Calls[len(first.Calls):]}).creations(); len(created) > 0 {
			t.Errorf("the second run created again: %q", created)
		}
		if len(s.Bindings) != len(first.Bindings) {
			t.Errorf("the second run changed the bindings: %d, then %d", len(first.Bindings), len(s.Bindings))
		}
		checkGrants(t, newPolicy(t, s))
	}
}

// checkGrants holds the plan to what each party needs.
func checkGrants(t *testing.T, p *policy) {
	t.Helper()
	if got, want := p.who("pubsub.subscriptions.consume", workerSub), []string{workerSA, agent}; !slices.Equal(got, want) {
		t.Errorf("who may consume the worker's subscription: %v, want only %v", got, want)
	}
	// Result events are the worker's word: the manifests of submit go to a
	// topic of their own.
	if got, want := p.who("pubsub.topics.publish", resultsTopic), []string{workerSA}; !slices.Equal(got, want) {
		t.Errorf("who may publish result events: %v, want only %v", got, want)
	}
	for _, perm := range []string{"pubsub.subscriptions.delete", "pubsub.subscriptions.update", "pubsub.subscriptions.setIamPolicy"} {
		if got := p.who(perm, workerSub); len(got) > 0 {
			t.Errorf("%v may %s the worker's subscription", got, perm)
		}
	}
	want := map[string][]string{
		workerSA: {"pubsub.subscriptions.consume " + workerSub, "pubsub.subscriptions.get " + workerSub,
			"pubsub.topics.publish " + resultsTopic},
		publisher1: {"pubsub.topics.publish " + requestTopic},
		publisher2: {"pubsub.topics.publish " + requestTopic},
		waitUser: {"pubsub.topics.publish " + requestTopic, "pubsub.topics.attachSubscription " + resultsTopic,
			"pubsub.topics.publish " + batchesTopic, "pubsub.topics.attachSubscription " + batchesTopic,
			"pubsub.subscriptions.create projects/" + waitProject, "pubsub.subscriptions.consume " + waitSub,
			"pubsub.subscriptions.delete " + waitSub},
		replayer: {"pubsub.subscriptions.consume " + deadLetterSub, "pubsub.subscriptions.get " + deadLetterSub,
			"pubsub.topics.publish " + requestTopic},
	}
	for member, needs := range want {
		for _, need := range needs {
			perm, resource, _ := strings.Cut(need, " ")
			if !p.can(member, perm, resource) {
				t.Errorf("%s may not %s on %s", member, perm, resource)
			}
		}
	}
	// What a party holds in PROJECT: on these resources, and nothing on the
	// project as a whole.
	for member, holds := range map[string][]string{
		publisher1: {requestTopic}, publisher2: {requestTopic},
		waitUser: {requestTopic, resultsTopic, batchesTopic},
		replayer: {requestTopic, deadLetterSub},
		workerSA: {workerSub, resultsTopic},
	} {
		for _, r := range []string{"projects/p", requestTopic, workerSub, resultsTopic, batchesTopic, resultsSub, deadLetters, deadLetterSub} {
			if got := p.on(member, r); len(got) > 0 && !slices.Contains(holds, r) {
				t.Errorf("%s holds %v on %s, which it has no use for", member, got, r)
			}
		}
	}
	if got := p.on(waitUser, "projects/"+waitProject); !slices.Equal(got, []string{"pubsub.subscriptions.consume", "pubsub.subscriptions.create", "pubsub.subscriptions.delete"}) {
		t.Errorf("the wait users hold %v in their project, want to create, consume and delete subscriptions", got)
	}
}

// policy is the bindings with the permissions of their roles.
type policy struct {
	bindings []iamBinding
	perms    map[string][]string // role → permissions
}

func newPolicy(t *testing.T, s *gcloudState) *policy {
	t.Helper()
	p := &policy{bindings: s.bindings(), perms: map[string][]string{}}
	for role, perms := range predefinedRoles {
		p.perms[role] = perms
	}
	for role, r := range s.Roles {
		if !r.Deleted {
			p.perms[role] = r.Permissions
		}
	}
	for _, b := range p.bindings {
		if _, ok := p.perms[b.Role]; !ok {
			t.Errorf("the script grants %s, whose permissions this test does not know", b.Role)
		}
	}
	return p
}

// applies: a binding on resource or on its project applies to resource
// (a subscription is not the child of a topic in IAM).
func applies(b iamBinding, resource string) bool {
	project := strings.Join(strings.SplitN(resource, "/", 3)[:2], "/")
	return b.Resource == resource || b.Resource == project
}

func (p *policy) can(member, perm, resource string) bool {
	for _, b := range p.bindings {
		if b.Member == member && applies(b, resource) && slices.Contains(p.perms[b.Role], perm) {
			return true
		}
	}
	return false
}

// who lists the members that hold perm on resource.
func (p *policy) who(perm, resource string) []string {
	var out []string
	for _, b := range p.bindings {
		if applies(b, resource) && slices.Contains(p.perms[b.Role], perm) && !slices.Contains(out, b.Member) {
			out = append(out, b.Member)
		}
	}
	sort.Strings(out)
	return out
}

// on lists the permissions member holds by bindings on resource itself.
func (p *policy) on(member, resource string) []string {
	var out []string
	for _, b := range p.bindings {
		if b.Member == member && b.Resource == resource {
			for _, perm := range p.perms[b.Role] {
				if !slices.Contains(out, perm) {
					out = append(out, perm)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestProvisioningKeepsWaitUsersOutOfTheProject: submit --wait users
// without a project of their own, or with the worker's, stop the script
// before it does anything: in PROJECT, their subscription rights would
// reach the worker's subscription.
func TestProvisioningKeepsWaitUsersOutOfTheProject(t *testing.T) {
	t.Parallel()
	for _, wp := range []string{"", iamProject} {
		fakeEnv, state := fakeGcloudPath(t)
		out, err := provisionIAM(t, fakeEnv, "WAIT_USERS="+waitUser, "WAIT_PROJECT="+wp)
		if err == nil || !strings.Contains(out, "WAIT_USERS needs WAIT_PROJECT") {
			t.Errorf("WAIT_PROJECT=%q: %v\n%s", wp, err, out)
		}
		if s, err := readGcloudState(state); err != nil || len(s.Calls) > 0 {
			t.Errorf("WAIT_PROJECT=%q: gcloud was called: %v %v", wp, s.Calls, err)
		}
	}
}

// TestProvisioningRestoresTheWaitRole: a custom role of the wait users that
// was deleted, or changed, gets back exactly its permissions.
func TestProvisioningRestoresTheWaitRole(t *testing.T) {
	t.Parallel()
	const role = "projects/" + waitProject + "/roles/opcancelWaiter"
	for name, before := range map[string]*fakeRole{
		"deleted": {Permissions: []string{"pubsub.subscriptions.consume"}, Deleted: true},
		"changed": {Permissions: []string{"pubsub.subscriptions.consume", "pubsub.topics.publish"}},
	} {
		fakeEnv, state := fakeGcloudPath(t)
		seed, err := json.Marshal(gcloudState{Roles: map[string]*fakeRole{role: before}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(state, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := provisionIAM(t, fakeEnv, "WAIT_USERS="+waitUser, "WAIT_PROJECT="+waitProject); err != nil {
			t.Fatalf("%s role: %v\n%s", name, err, out)
		}
		s, err := readGcloudState(state)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Roles[role]
		if want := []string{"pubsub.subscriptions.create", "pubsub.subscriptions.consume", "pubsub.subscriptions.delete"}; got.Deleted || !slices.Equal(got.Permissions, want) {
			t.Errorf("%s role, after provisioning: %+v, want %v", name, got, want)
		}
	}
}

// subscriptionNames records the names of the subscriptions created on a
// pstest server.
type subscriptionNames struct {
	mu    sync.Mutex
	names []string
}

func (r *subscriptionNames) React(req any) (bool, any, error) {
	if s, ok := req.(*pubsubpb.Subscription); ok {
		r.mu.Lock()
		r.names = append(r.names, s.Name)
		r.mu.Unlock()
	}
	return false, nil, nil
}

// TestSubmitWaitSubscribesInTheWaitProject: with --project set to the wait
// project and the topics named in full, as docs/operations.md#iam tells the
// wait users, submit --wait makes its temporary subscription in the wait
// project, attached to the results topic of the worker's project, and
// follows the batch to its outcome.
func TestSubmitWaitSubscribesInTheWaitProject(t *testing.T) {
	t.Parallel()
	fake := lrotest.New(lrotest.Options{})
	fake.Set("operations/w1", lrotest.Script{})
	api := httptest.NewServer(fake)
	defer api.Close()
	created := &subscriptionNames{}
	w := e2etest.NewPstestWorld(t, api.URL, pstest.ServerReactorOption{FuncName: "CreateSubscription", Reactor: created})
	results, batches := "projects/p/topics/results", "projects/p/topics/batches"
	for _, topic := range []string{results, batches} {
		if err := w.Client.CreateTopic(context.Background(), topic); err != nil {
			t.Fatal(err)
		}
	}
	l := e2etest.Limits{RetryBudget: 10 * time.Second, VerifyTimeout: 10 * time.Second, RequestTimeout: 5 * time.Second, ShutdownTimeout: time.Second}
	w.StartWorker(t, append(l.Args(), "--results-topic="+results)...)
	cmd := exec.Command(binary(t), "submit", "--auth=none", "--project=p-wait", "--topic="+w.Topic, "--results-topic="+results,
		"--batches-topic="+batches, "--wait", "--wait-timeout="+l.Job().String(), "--config="+w.Config, "operations/w1")
	cmd.Env = []string{"PUBSUB_EMULATOR_HOST=" + w.Server.Addr}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cancelled") {
		t.Fatalf("submit --wait: %v\n%s", err, out)
	}
	created.mu.Lock()
	defer created.mu.Unlock()
	if len(created.names) != 2 || !strings.HasPrefix(created.names[1], "projects/p-wait/subscriptions/opcancel-wait-") {
		t.Errorf("subscriptions created: %v; want the worker's, then the one of submit --wait (results) in projects/p-wait, named opcancel-wait-…", created.names)
	}
}
