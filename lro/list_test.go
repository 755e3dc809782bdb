package lro_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"opcancel/lro"
	"opcancel/lro/lrotest"
)

// TestListPassesTheFilterThrough: --filter reaches the API as it was
// written, whatever its characters, as the filter query parameter.
func TestListPassesTheFilterThrough(t *testing.T) {
	t.Parallel()
	c, table, fake := catalogClient(t, "aiplatform.googleapis.com", "storage.googleapis.com")
	ctx := context.Background()
	filter := `metadata.@type="type.googleapis.com/google.cloud.aiplatform.v1.CreateDatasetOperationMetadata" AND done=false OR name:"a&b=c/d?e#f%20"`
	for host, parent := range map[string]string{
		"aiplatform.googleapis.com": "projects/p/locations/us-central1/operations",
		"storage.googleapis.com":    "b/bkt/operations",
	} {
		if _, err := c.List(ctx, table.Lookup(host), parent, lro.ListQuery{Filter: filter, PageToken: "7"}); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
	}
	var got []string
	for _, r := range fake.Requests() {
		q, err := url.ParseQuery(r.Query)
		if err != nil {
			t.Fatal(err)
		}
		if q.Get("pageToken") != "7" {
			t.Errorf("%s: pageToken %q, want 7", r.Host, q.Get("pageToken"))
		}
		got = append(got, q.Get("filter"))
	}
	if diff := cmp.Diff([]string{filter, filter}, got); diff != "" {
		t.Errorf("filters sent (-want +got):\n%s", diff)
	}
}

// TestListRefusesAFilterTheAPICannotTake: Cloud SQL's and GKE's
// operations.list take no filter; a filter for them is refused before
// anything is sent, as is one no API could mean.
func TestListRefusesAFilterTheAPICannotTake(t *testing.T) {
	t.Parallel()
	c, table, fake := catalogClient(t, "sqladmin.googleapis.com", "container.googleapis.com", "aiplatform.googleapis.com")
	ctx := context.Background()
	for _, tt := range []struct {
		host, parent, filter, want string
	}{
		{"sqladmin.googleapis.com", "projects/p/operations", "done=false", "takes no filter"},
		{"container.googleapis.com", "projects/p/locations/l/operations", "done=false", "takes no filter"},
		{"aiplatform.googleapis.com", "projects/p/locations/global/operations", "done=false\x1b[2J", "control character"},
		{"aiplatform.googleapis.com", "projects/p/locations/global/operations", "done=\xff", "not UTF-8"},
		{"aiplatform.googleapis.com", "projects/p/locations/global/operations", strings.Repeat("a", lro.MaxFilterBytes+1), "at most 2048"},
	} {
		_, err := c.List(ctx, table.Lookup(tt.host), tt.parent, lro.ListQuery{Filter: tt.filter})
		if !errors.Is(err, lro.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s filter %.20q: %v, want ErrInvalid with %q", tt.host, tt.filter, err, tt.want)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// TestOperationTypeAndCreationTime: each dialect's operations say what
// they are and when they were created, in get and in list, as the fake
// serves them the way each API does.
func TestOperationTypeAndCreationTime(t *testing.T) {
	t.Parallel()
	c, table, fake := catalogClient(t, "aiplatform.googleapis.com", "sqladmin.googleapis.com", "storage.googleapis.com", "container.googleapis.com")
	created := time.Date(2026, 11, 22, 7, 0, 0, 123000000, time.UTC)
	ctx := context.Background()
	for _, tt := range []struct {
		host, parent, typ string
	}{
		{"aiplatform.googleapis.com", "projects/p/locations/us-central1/operations", "google.cloud.aiplatform.v1.CreateDatasetOperationMetadata"},
		{"storage.googleapis.com", "b/bkt/operations", "google.storage.control.v2.BulkRestoreObjectsMetadata"},
		{"sqladmin.googleapis.com", "projects/p/operations", "IMPORT"},
		{"container.googleapis.com", "projects/p/locations/l/operations", "CREATE_CLUSTER"},
	} {
		name := tt.parent + "/op1"
		fake.Set(name, lrotest.Script{Type: tt.typ, Created: created})
		svc := table.Lookup(tt.host)
		op, err := c.Get(ctx, svc, name)
		if err != nil {
			t.Fatalf("%s: get: %v", tt.host, err)
		}
		page, err := c.List(ctx, svc, tt.parent, lro.ListQuery{})
		if err != nil || len(page.Operations) != 1 {
			t.Fatalf("%s: list: %v, %+v", tt.host, err, page)
		}
		for what, op := range map[string]*lro.Operation{"get": op, "list": page.Operations[0]} {
			if op.Type != tt.typ || !op.Created.Equal(created) {
				t.Errorf("%s %s: type %q created %v, want %q %v", tt.host, what, op.Type, op.Created, tt.typ, created)
			}
		}
	}
}
