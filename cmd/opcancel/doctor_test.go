package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// The doctor end to end: the real binary, against the Pub/Sub emulator and
// TLS fakes of the APIs (lrotest), with Application Default Credentials
// from a key file whose token endpoint is local (newCredentials). The
// emulator has no IAM (every IAM method answers UNIMPLEMENTED:
// TestDoctorOnTheEmulatorAlone), so the IAM answers of Pub/Sub are
// injected by fakeIAM, a gRPC server in front of the emulator that answers
// TestIamPermissions and GetIamPolicy itself and forwards every other call.
// Every other failure is real: a subscription that does not exist or has
// no dead-letter policy on the emulator, a token endpoint that refuses
// delegation, an endpoint that is not Google's, user credentials without a
// quota project.

// fakeIAM answers Pub/Sub's IAM methods from its tables: a resource it does
// not know does not exist.
type fakeIAM struct {
	iampb.UnimplementedIAMPolicyServer
	mu sync.Mutex
	// granted are the permissions the caller holds, by resource.
	granted map[string][]string
	// policies are the resources' IAM policies; denyPolicies refuses to
	// show them, as to a caller without getIamPolicy.
	policies     map[string]*iampb.Policy
	denyPolicies bool
	// refuse, when set, sees every forwarded call (its method and request
	// bytes) first; an error is the answer instead of the emulator's.
	refuse func(method string, request []byte) error
}

func (f *fakeIAM) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	held, ok := f.granted[req.GetResource()]
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "Resource not found (resource=%s).", lastSegment(req.GetResource()))
	}
	out := &iampb.TestIamPermissionsResponse{}
	for _, p := range req.GetPermissions() {
		if slices.Contains(held, p) {
			out.Permissions = append(out.Permissions, p)
		}
	}
	return out, nil
}

func (f *fakeIAM) GetIamPolicy(_ context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.denyPolicies {
		return nil, grpcstatus.Errorf(codes.PermissionDenied, "User not authorized to perform this action.")
	}
	p, ok := f.policies[req.GetResource()]
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "Resource not found (resource=%s).", lastSegment(req.GetResource()))
	}
	return p, nil
}

// rawFrame is a forwarded message, as its wire bytes.
type rawFrame struct{ b []byte }

// iamProxyCodec encodes the IAM answers as protobuf and passes forwarded
// frames through.
type iamProxyCodec struct{}

func (iamProxyCodec) Marshal(v any) ([]byte, error) {
	if f, ok := v.(*rawFrame); ok {
		return f.b, nil
	}
	return proto.Marshal(v.(proto.Message))
}

func (iamProxyCodec) Unmarshal(b []byte, v any) error {
	if f, ok := v.(*rawFrame); ok {
		f.b = append([]byte(nil), b...)
		return nil
	}
	return proto.Unmarshal(b, v.(proto.Message))
}

func (iamProxyCodec) Name() string { return "proto" }

// startIAMProxy serves iam in front of the emulator at upstream and
// returns its address, for PUBSUB_EMULATOR_HOST. It forwards unary calls
// only: the doctor makes no other.
func startIAMProxy(t *testing.T, upstream string, iam *fakeIAM) string {
	t.Helper()
	up, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	forward := func(_ any, stream grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(stream)
		if !ok {
			return errors.New("no method")
		}
		var in, out rawFrame
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		if iam.refuse != nil {
			if err := iam.refuse(method, in.b); err != nil {
				return err
			}
		}
		md, _ := metadata.FromIncomingContext(stream.Context())
		if err := up.Invoke(metadata.NewOutgoingContext(stream.Context(), md), method, &in, &out, grpc.ForceCodec(iamProxyCodec{})); err != nil {
			return err
		}
		return stream.SendMsg(&out)
	}
	srv := grpc.NewServer(grpc.ForceServerCodec(iamProxyCodec{}), grpc.UnknownServiceHandler(forward))
	iampb.RegisterIAMPolicyServer(srv, iam)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Stop(); up.Close() })
	return ln.Addr().String()
}

// doctorWorld is what one doctor run checks: Pub/Sub resources on the
// emulator behind fakeIAM, API fakes over TLS, and credentials.
type doctorWorld struct {
	e                 *queuetest.Emulator
	project           string
	sub, results, dlt string
	batches           string
	// unkept keeps no messages, shortKept keeps them for 2 hours: topics
	// opcancel wait cannot follow a batch back on.
	unkept, shortKept     string
	iam                   *fakeIAM
	creds                 *credentials
	vault, amapi          *lrotest.Server
	vaultURL, amapiURL    string
	serviceExtra          map[string]string
	certPEM               []byte
	member, agent, noDLQs string
}

// newDoctorWorld makes a world in which every check passes: the worker
// subscription with a dead-letter policy, a results topic and the
// dead-letter topic; the credentials' service account may consume and
// publish results; Pub/Sub's service agent may publish dead letters and
// take them; both built-in APIs answer as Google does.
func newDoctorWorld(t *testing.T) *doctorWorld {
	t.Helper()
	e := emulator(t)
	ctx := context.Background()
	w := &doctorWorld{e: e, project: "proj-" + strings.ToLower(uniqueName("doctor")), iam: &fakeIAM{}}
	var err error
	if w.dlt, err = e.Topic(ctx, w.project, "dead-letter"); err != nil {
		t.Fatal(err)
	}
	if _, w.sub, err = e.TopicAndSubscription(ctx, w.project, "requests", "worker", queuetest.SubscriptionOptions{DeadLetterTopic: w.dlt, MaxDeliveries: 20}); err != nil {
		t.Fatal(err)
	}
	if _, w.noDLQs, err = e.TopicAndSubscription(ctx, w.project, "other", "no-dead-letters", queuetest.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	w.results = keptTopic(t, e, w.project, "results", 7*24*time.Hour)
	w.batches = keptTopic(t, e, w.project, "batches", 7*24*time.Hour)
	w.shortKept = keptTopic(t, e, w.project, "short-kept", 2*time.Hour)
	if w.unkept, err = e.Topic(ctx, w.project, "unkept"); err != nil {
		t.Fatal(err)
	}
	w.member = "serviceAccount:opcancel@sec-proj.iam.gserviceaccount.com"
	w.agent = "serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com"
	w.iam.granted = map[string][]string{w.sub: {permConsume}, w.noDLQs: {permConsume}, w.results: {permPublish}, w.dlt: {},
		w.batches: {}, w.unkept: {permPublish}, w.shortKept: {}}
	w.iam.policies = map[string]*iampb.Policy{
		w.dlt: {Bindings: []*iampb.Binding{{Role: "roles/pubsub.publisher", Members: []string{w.agent}}}},
		w.sub: {Bindings: []*iampb.Binding{{Role: "roles/pubsub.subscriber", Members: []string{w.member, w.agent}}}},
	}
	w.vault, w.amapi = lrotest.New(lrotest.Options{}), lrotest.New(lrotest.Options{})
	vs, as := httptest.NewTLSServer(w.vault), httptest.NewTLSServer(w.amapi)
	t.Cleanup(vs.Close)
	t.Cleanup(as.Close)
	w.vaultURL, w.amapiURL = vs.URL, as.URL
	w.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vs.Certificate().Raw})
	w.creds = newCredentials(t, w.certPEM)
	return w
}

// doctorRun is the outcome of one run of opcancel doctor --output=json.
type doctorRun struct {
	code   int
	stderr string
	OK     bool    `json:"ok"`
	Checks []check `json:"checks"`
}

// check returns the run's check of that name.
func (r *doctorRun) check(t *testing.T, name string) check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return check{}
}

// run runs the doctor on the world with env (on top of the world's
// Pub/Sub, through fakeIAM, and its credentials) and args.
func (w *doctorWorld) run(t *testing.T, env []string, args ...string) *doctorRun {
	t.Helper()
	config := filepath.Join(t.TempDir(), "services.yaml")
	endpoints := lrotest.Endpoints{vaultHost: w.vaultURL, amapiHost: w.amapiURL}
	yaml := lrotest.ServicesYAML(endpoints, lrotest.TokensToFakes(endpoints, w.serviceExtra))
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	base := append([]string{"PUBSUB_EMULATOR_HOST=" + startIAMProxy(t, w.e.Host, w.iam)}, w.creds.env...)
	cmd := exec.Command(binary(t), append([]string{"doctor", "--output=json", "--subscription=" + w.sub, "--results-topic=" + w.results,
		"--batches-topic=" + w.batches, "--config=" + config, "--request-timeout=20s"}, args...)...)
	cmd.Env = append(base, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := &doctorRun{stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stdout.Bytes(), r); err != nil {
		t.Fatalf("doctor --output=json: %v\nstdout: %s\nstderr: %s", err, stdout.String(), r.stderr)
	}
	return r
}

// TestDoctorPassesWhereAllIsWell: in a world set up as the kit sets it up,
// every check passes (the quota project does not apply to a service
// account) and the doctor exits 0.
func TestDoctorPassesWhereAllIsWell(t *testing.T) {
	t.Parallel()
	w := newDoctorWorld(t)
	r := w.run(t, nil)
	want := []string{"subscription", "consume", "results topic", "dead-letter policy", "dead-letter topic", "Pub/Sub service agent",
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
	}{
		{
			name: "the subscription does not exist",
			breakIt: func(w *doctorWorld) ([]string, []string) {
				return nil, []string{"--subscription=projects/" + w.project + "/subscriptions/missing"}
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
			if c.Status != checkFail || !strings.Contains(c.Detail, expand(tt.detail)) || !strings.Contains(c.Fix, expand(tt.fix)) {
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
	w.vault = lrotest.New(lrotest.Options{Fault: func(*http.Request) *lrotest.Answer {
		a := lrotest.Err(lro.PermissionDenied, hostile)
		return &a
	}})
	vs := httptest.NewTLSServer(w.vault)
	t.Cleanup(vs.Close)
	w.vaultURL = vs.URL
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
				w.iam.refuse = func(method string, _ []byte) error {
					if method == "/google.pubsub.v1.Publisher/GetTopic" {
						return grpcstatus.Error(codes.PermissionDenied, "User not authorized to perform this action.")
					}
					return nil
				}
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
