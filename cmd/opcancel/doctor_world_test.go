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
	"path"
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

	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
)

// The doctor end to end: the real binary, against the Pub/Sub emulator and
// TLS fakes of the APIs (lrotest), with Application Default Credentials
// from a key file whose token endpoint is local (newCredentials). The
// emulator has no IAM (every IAM method answers UNIMPLEMENTED:
// TestDoctorOnTheEmulatorAlone), so the IAM answers of Pub/Sub are
// injected by fakeIAM, a gRPC server in front of the emulator that answers
// TestIamPermissions and GetIamPolicy itself, refuses the calls a test
// names, and forwards every other call. Workload Identity's metadata
// server is newFakeMetadata (doctor_credentials_test.go). Every other
// failure is real: a subscription that does not exist or has
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
	// refuse answers the methods it names (GetSubscription,
	// TestIamPermissions, …) with its code instead.
	refuse map[string]codes.Code
	// refuseCall, when set, sees every forwarded call (its method and
	// request bytes) first; an error is the answer instead of the
	// emulator's.
	refuseCall func(method string, request []byte) error
}

// refused is the error of a method refuse names, nil for any other.
func (f *fakeIAM) refused(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.refuse[path.Base(method)]; ok {
		return grpcstatus.Errorf(c, "%s refused by the test", path.Base(method))
	}
	return nil
}

func (f *fakeIAM) TestIamPermissions(_ context.Context, req *iampb.TestIamPermissionsRequest) (*iampb.TestIamPermissionsResponse, error) {
	if err := f.refused("TestIamPermissions"); err != nil {
		return nil, err
	}
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
		if err := iam.refused(method); err != nil {
			return err
		}
		if iam.refuseCall != nil {
			if err := iam.refuseCall(method, in.b); err != nil {
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

// answerVault replaces the world's Vault with one that answers every
// request with a.
func (w *doctorWorld) answerVault(t *testing.T, a lrotest.Answer) {
	t.Helper()
	w.vault = lrotest.New(lrotest.Options{Fault: func(*http.Request) *lrotest.Answer { return &a }})
	vs := httptest.NewTLSServer(w.vault)
	t.Cleanup(vs.Close)
	w.vaultURL = vs.URL
}

// doctorRun is the outcome of one run of opcancel doctor --output=json.
type doctorRun struct {
	code   int
	stderr string
	OK     bool          `json:"ok"`
	Checks []doctorCheck `json:"checks"`
}

// check returns the run's check of that name.
func (r *doctorRun) check(t *testing.T, name string) doctorCheck {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return doctorCheck{}
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
	flags := []string{"doctor", "--output=json", "--results-topic=" + w.results, "--batches-topic=" + w.batches, "--config=" + config, "--request-timeout=20s"}
	// --subscription adds one: args that give one check it alone.
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--subscription=") }) {
		flags = append(flags, "--subscription="+w.sub)
	}
	cmd := exec.Command(binary(t), append(flags, args...)...)
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
