package deploy

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcstatus "google.golang.org/grpc/status"
)

// Partitions (docs/deploy.md#partitions): deploy/pubsub/provision.sh with
// PARTITIONS creates a subscription per listed service, filtered on the
// service attribute, and one for the rest; deploy/components/partitions
// has the workers read them. The emulator keeps filters but does not apply
// them: pstest, which does, checks what they select.

// The partitions of deploy/components/partitions, as its comment gives them.
const componentPartitions = "androidmanagement.googleapis.com vault.googleapis.com"

// componentSubscriptions is the OPCANCEL_SUBSCRIPTION the component sets.
func componentSubscriptions(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("components", "partitions", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `PARTITIONS="`+componentPartitions+`"`) {
		t.Fatalf("deploy/components/partitions does not say it is the line of PARTITIONS=%q", componentPartitions)
	}
	m := regexp.MustCompile(`OPCANCEL_SUBSCRIPTION=(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("deploy/components/partitions sets no OPCANCEL_SUBSCRIPTION")
	}
	return string(m[1])
}

// workersRead is the OPCANCEL_SUBSCRIPTION line provision.sh printed.
func workersRead(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`the workers read: OPCANCEL_SUBSCRIPTION=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("provision.sh printed no OPCANCEL_SUBSCRIPTION for the workers:\n%s", out)
	}
	return m[1]
}

// TestProvisioningPartitions runs provision.sh with the component's
// PARTITIONS on the emulator: one subscription per service with its filter
// and the worker subscription's policies, one for the rest, no unfiltered
// one, and the line it prints is the component's.
func TestProvisioningPartitions(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	project := "prov-" + strings.ToLower(uniqueName("part"))
	out, err := provision(t, "http://"+e.Direct+"/", project, "PARTITIONS="+componentPartitions)
	if err != nil {
		t.Fatalf("provision.sh: %v\n%s", err, out)
	}
	want := componentSubscriptions(t)
	if got := workersRead(t, out); got != want {
		t.Errorf("provision.sh says the workers read %s, deploy/components/partitions sets %s", got, want)
	}
	ctx := context.Background()
	filters := map[string]string{}
	for _, id := range strings.Split(want, ",") {
		sub, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/" + id})
		if err != nil {
			t.Fatalf("subscription %s: %v", id, err)
		}
		if sub.Topic != "projects/"+project+"/topics/opcancel-requests" || sub.AckDeadlineSeconds != 60 ||
			sub.DeadLetterPolicy.GetMaxDeliveryAttempts() != 20 || sub.RetryPolicy.GetMinimumBackoff().AsDuration() != 10*time.Second {
			t.Errorf("partition %s lacks the worker subscription's policies: %v", id, sub)
		}
		filters[id] = sub.Filter
	}
	wantFilters := map[string]string{
		"opcancel-worker-androidmanagement.googleapis.com": `attributes.service = "androidmanagement.googleapis.com"`,
		"opcancel-worker-vault.googleapis.com":             `attributes.service = "vault.googleapis.com"`,
	}
	for id, f := range filters {
		if strings.HasPrefix(id, "opcancel-worker-rest-") {
			wantFilters[id] = `NOT (attributes.service = "androidmanagement.googleapis.com" OR attributes.service = "vault.googleapis.com")`
		}
		if f != wantFilters[id] {
			t.Errorf("partition %s has the filter %q, want %q", id, f, wantFilters[id])
		}
	}
	if _, err := e.Client.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/opcancel-worker"}); grpcstatus.Code(err) != codes.NotFound {
		t.Errorf("the unfiltered opcancel-worker exists beside the partitions (%v): it would take every message again", err)
	}
	checkPartitionFilters(t, filters)
}

// TestProvisioningPartitionsAgain (on the fake gcloud): a second run with
// the same list creates nothing; a run with another list creates a new
// subscription for the rest, leaves the others, and names the ones the
// workers no longer read, the unfiltered one of an unpartitioned start too.
func TestProvisioningPartitionsAgain(t *testing.T) {
	t.Parallel()
	fakeEnv, state := fakeGcloudPath(t)
	calls := func() int {
		s, err := readGcloudState(state)
		if err != nil {
			t.Fatal(err)
		}
		return len(s.Calls)
	}
	if out, err := provisionIAM(t, fakeEnv); err != nil { // unpartitioned first
		t.Fatalf("%v\n%s", err, out)
	}
	before := calls()
	var out string
	for run := range 2 {
		var err error
		if out, err = provisionIAM(t, fakeEnv, "PARTITIONS="+componentPartitions); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		s, err := readGcloudState(state)
		if err != nil {
			t.Fatal(err)
		}
		if created := (&gcloudState{Calls: s.Calls[before:]}).creations(); run == 1 && len(created) > 0 {
			t.Errorf("the second run with the same list created again: %q", created)
		}
		before = len(s.Calls)
	}
	if !strings.Contains(out, "subscription opcancel-worker still receives messages") {
		t.Errorf("provision.sh does not name the unfiltered opcancel-worker, which the workers no longer read:\n%s", out)
	}
	old := strings.Split(componentSubscriptions(t), ",")
	out, err := provisionIAM(t, fakeEnv, "PARTITIONS=vault.googleapis.com")
	if err != nil {
		t.Fatalf("another list: %v\n%s", err, out)
	}
	now := strings.Split(workersRead(t, out), ",")
	if len(now) != 2 || now[0] != "opcancel-worker-vault.googleapis.com" || !strings.HasPrefix(now[1], "opcancel-worker-rest-") || slices.Contains(old, now[1]) {
		t.Errorf("with PARTITIONS=vault.googleapis.com the workers read %v, want the Vault partition and a new rest", now)
	}
	for _, id := range old {
		if id != now[0] && !strings.Contains(out, "subscription "+id+" still receives messages") {
			t.Errorf("provision.sh does not say that %s, which the workers no longer read, still receives their messages:\n%s", id, out)
		}
	}
}

// checkPartitionFilters: on a server that applies filters, every message
// reaches exactly one partition: its service's, or the rest's when its
// service is not partitioned or it names none.
func checkPartitionFilters(t *testing.T, filters map[string]string) {
	t.Helper()
	srv := pstest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, "p", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	topic := "projects/p/topics/requests"
	if _, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	for id, f := range filters {
		if _, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: "projects/p/subscriptions/" + id, Topic: topic, Filter: f}); err != nil {
			t.Fatalf("filter %q: %v", f, err)
		}
	}
	want := map[string]string{ // message → the partition that must get it
		"vault":       "opcancel-worker-vault.googleapis.com",
		"amapi":       "opcancel-worker-androidmanagement.googleapis.com",
		"aiplatform":  "rest",
		"no-service":  "rest",
		"vault-cased": "rest", // not the host: the worker refuses it as invalid, from the rest
	}
	attrs := map[string]map[string]string{
		"vault":       {"service": "vault.googleapis.com"},
		"amapi":       {"service": "androidmanagement.googleapis.com", "batch": "b"},
		"aiplatform":  {"service": "aiplatform.googleapis.com"},
		"no-service":  {"batch": "b"},
		"vault-cased": {"service": "Vault.googleapis.com"},
	}
	p := c.Publisher(topic)
	for data, a := range attrs {
		if _, err := p.Publish(ctx, &pubsub.Message{Data: []byte(data), Attributes: a}).Get(ctx); err != nil {
			t.Fatal(err)
		}
	}
	p.Stop()
	got := map[string][]string{}
	for id := range filters {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: "projects/p/subscriptions/" + id, MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(id, "opcancel-worker-rest-") {
			id = "rest"
		}
		for _, m := range resp.ReceivedMessages {
			got[string(m.Message.Data)] = append(got[string(m.Message.Data)], id)
		}
	}
	for data, sub := range want {
		if g := got[data]; len(g) != 1 || g[0] != sub {
			t.Errorf("message %q (attributes %v) reached %v, want only %s", data, attrs[data], g, sub)
		}
	}
}

// TestProvisioningRefusesBadPartitions: a host that is not one, or a list
// whose rest filter is over Pub/Sub's 256 bytes, stops the script before it
// creates anything.
func TestProvisioningRefusesBadPartitions(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	long := strings.Repeat("a", 40)
	for _, tt := range []struct{ partitions, says string }{
		{"vault.googleapis.com Vault", "is not a service host"},
		{`vault.googleapis.com" OR "1`, "is not a service host"},
		{long + "1.googleapis.com " + long + "2.googleapis.com " + long + "3.googleapis.com " + long + "4.googleapis.com", "over Pub/Sub's 256"},
	} {
		project := "prov-" + strings.ToLower(uniqueName("bad"))
		out, err := provision(t, "http://"+e.Direct+"/", project, "PARTITIONS="+tt.partitions)
		if err == nil || !strings.Contains(out, tt.says) {
			t.Errorf("PARTITIONS=%q: %v, want a refusal that says %q:\n%s", tt.partitions, err, tt.says, out)
		}
		if _, err := e.Client.TopicAdminClient.GetTopic(context.Background(), &pubsubpb.GetTopicRequest{Topic: "projects/" + project + "/topics/opcancel-requests"}); grpcstatus.Code(err) != codes.NotFound {
			t.Errorf("PARTITIONS=%q: the request topic was created before the refusal (%v)", tt.partitions, err)
		}
	}
}

// TestProvisioningGrantsOnPartitions: the worker may consume and read each
// partition, and the Pub/Sub service agent may take dead letters from each;
// no one else may consume them.
func TestProvisioningGrantsOnPartitions(t *testing.T) {
	t.Parallel()
	fakeEnv, state := fakeGcloudPath(t)
	if out, err := provisionIAM(t, fakeEnv, "WORKER_SA=opcancel@p.iam.gserviceaccount.com", "PUBLISHERS="+publisher1,
		"PARTITIONS="+componentPartitions); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	s, err := readGcloudState(state)
	if err != nil {
		t.Fatal(err)
	}
	p := newPolicy(t, s)
	for _, id := range strings.Split(componentSubscriptions(t), ",") {
		sub := "projects/p/subscriptions/" + id
		if _, ok := s.Subscriptions[sub]; !ok {
			t.Errorf("partition %s was not created", id)
		}
		if got, want := p.who("pubsub.subscriptions.consume", sub), []string{workerSA, agent}; !slices.Equal(got, want) {
			t.Errorf("who may consume %s: %v, want %v", id, got, want)
		}
		if !p.can(workerSA, "pubsub.subscriptions.get", sub) {
			t.Errorf("the worker may not read %s's dead-letter policy", id)
		}
	}
	if _, ok := s.Subscriptions[workerSub]; ok {
		t.Errorf("the unfiltered %s was created beside the partitions", workerSub)
	}
}

// TestPartitionsComponent: with deploy/components/partitions, the worker
// of each production overlay reads the partitions.
func TestPartitionsComponent(t *testing.T) {
	t.Parallel()
	want := componentSubscriptions(t)
	for _, overlay := range []string{"overlays/prod", "overlays/gke"} {
		r := render(t, withComponent(t, overlay, "components/partitions"))
		env, ok := r.configMaps["opcancel-env"]
		if !ok {
			t.Fatalf("%s with partitions: no opcancel-env", overlay)
		}
		if got := env.Data["OPCANCEL_SUBSCRIPTION"]; got != want {
			t.Errorf("%s with partitions: OPCANCEL_SUBSCRIPTION=%s, want %s", overlay, got, want)
		}
	}
}
