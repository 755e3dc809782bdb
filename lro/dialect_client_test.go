package lro_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// catalogClient enables APIs of the catalog by their host alone and returns
// a client whose requests, sent with tokens to Google's real endpoints, all
// reach one fake impersonating those APIs.
func catalogClient(t *testing.T, hosts ...string) (*lro.Client, *lro.Table, *lrotest.Server) {
	t.Helper()
	yaml := "services:\n"
	for _, h := range hosts {
		yaml += "  - host: " + h + "\n"
	}
	table, err := lro.ParseTable("t.yaml", []byte(yaml), lro.FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	fake := lrotest.New(lrotest.Options{Services: table.Services(), Default: func(string) *lrotest.Script { return &lrotest.Script{} }})
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	c, err := lro.New(context.Background(), table, lro.Config{Auth: lro.AuthADC, TokenSource: staticTokens, Transport: lrotest.HostTransport(srv)})
	if err != nil {
		t.Fatal(err)
	}
	return c, table, fake
}

func TestRequestsOfEveryDialectAndRegion(t *testing.T) {
	t.Parallel()
	c, table, fake := catalogClient(t, "aiplatform.googleapis.com", "sqladmin.googleapis.com", "storage.googleapis.com",
		"datalabeling.googleapis.com", "container.googleapis.com")
	ctx := context.Background()
	type sent struct{ Method, Host, Path, Auth string }
	tests := []struct {
		host, name string
		want       sent
	}{
		{"aiplatform.googleapis.com", "projects/p/locations/us-central1/operations/1",
			sent{"POST", "us-central1-aiplatform.googleapis.com", "/v1/projects/p/locations/us-central1/operations/1:cancel", "Bearer " + secretToken}},
		{"aiplatform.googleapis.com", "projects/p/locations/global/operations/2",
			sent{"POST", "aiplatform.googleapis.com", "/v1/projects/p/locations/global/operations/2:cancel", "Bearer " + secretToken}},
		{"aiplatform.googleapis.com", "projects/p/locations/us/operations/3",
			sent{"POST", "aiplatform.us.rep.googleapis.com", "/v1/projects/p/locations/us/operations/3:cancel", "Bearer " + secretToken}},
		{"sqladmin.googleapis.com", "projects/p/operations/4",
			sent{"POST", "sqladmin.googleapis.com", "/v1/projects/p/operations/4/cancel", "Bearer " + secretToken}},
		{"storage.googleapis.com", "b/bkt/operations/5",
			sent{"POST", "storage.googleapis.com", "/storage/v1/b/bkt/operations/5/cancel", "Bearer " + secretToken}},
		{"datalabeling.googleapis.com", "projects/p/operations/6",
			sent{"GET", "datalabeling.googleapis.com", "/v1beta1/projects/p/operations/6:cancel", "Bearer " + secretToken}},
		{"container.googleapis.com", "projects/p/zones/z/operations/7",
			sent{"POST", "container.googleapis.com", "/v1/projects/p/zones/z/operations/7:cancel", "Bearer " + secretToken}},
	}
	for _, tt := range tests {
		svc := table.Lookup(tt.host)
		if err := c.Cancel(ctx, svc, tt.name); err != nil {
			t.Errorf("Cancel %s %s: %v", tt.host, tt.name, err)
			continue
		}
		reqs := fake.RequestsFor(tt.name)
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", tt.name, len(reqs))
		}
		r := reqs[0]
		if diff := cmp.Diff(tt.want, sent{r.Method, r.Host, r.Path, r.Header.Get("Authorization")}); diff != "" {
			t.Errorf("cancel %s (-want +got):\n%s", tt.name, diff)
		}
		// The dialect's operation resource reads as cancelled.
		op, err := c.Get(ctx, svc, tt.name)
		if err != nil || !op.Done || op.Error == nil || op.Error.Code != lro.Cancelled {
			t.Errorf("Get %s = %+v, %v; want done and cancelled", tt.name, op, err)
		}
	}
}

func TestUnverifiableAndUnroutableNamesSendNothing(t *testing.T) {
	t.Parallel()
	c, table, fake := catalogClient(t, "firebasehosting.googleapis.com", "aiplatform.googleapis.com")
	ctx := context.Background()
	hosting := table.Lookup("firebasehosting.googleapis.com")
	name := "projects/p/sites/s/customDomains/d/operations/o"
	if hosting.Readable(name) {
		t.Errorf("Readable(%s) = true; the API has no get for it", name)
	}
	if _, err := c.Get(ctx, hosting, name); !errors.Is(err, lro.ErrInvalid) {
		t.Errorf("Get of an unreadable name = %v, want ErrInvalid", err)
	}
	ai := table.Lookup("aiplatform.googleapis.com")
	if err := c.Cancel(ctx, ai, "projects/p/locations/mars-north1/operations/o"); !errors.Is(err, lro.ErrInvalid) {
		t.Errorf("Cancel in a location without an endpoint = %v, want ErrInvalid", err)
	}
	// A regional endpoint changed after the client was made gets no token.
	ai.Regional["us-central1"], _ = url.Parse("https://attacker.test")
	if err := c.Cancel(ctx, ai, "projects/p/locations/us-central1/operations/o"); err == nil {
		t.Error("Cancel to a host the client was not made for succeeded")
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want 0", n)
	}
}
