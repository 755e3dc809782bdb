package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"

	"opcancel/lro"
	"opcancel/lro/lrotest"
	"opcancel/queue/queuetest"
	"opcancel/worker"
)

// catalogServices enables six APIs of the catalog by their host alone:
// Vertex AI (locational endpoints), Document AI (regional endpoints), Cloud
// SQL and Cloud Storage (their own request and operation shapes), GKE
// (status operations) and Firebase Hosting (operations it cannot read).
const catalogServices = `services:
  - host: aiplatform.googleapis.com
  - host: documentai.googleapis.com
  - host: sqladmin.googleapis.com
  - host: storage.googleapis.com
  - host: container.googleapis.com
  - host: firebasehosting.googleapis.com
`

// catalogOp is an operation of the end-to-end test: the message naming it,
// how the fake plays it, and where its cancel must go.
type catalogOp struct {
	msg, name string
	script    lrotest.Script
	service   string
	want      worker.Outcome
	cancel    string // "METHOD host path" of the cancel; none when empty
}

// catalogOps covers each API's dialect and endpoints, a seed beside them,
// and three names that must send nothing: a location without an endpoint,
// a bare name three enabled APIs share, an API of the catalog that is not
// enabled.
func catalogOps() []catalogOp {
	done := lrotest.Script{}
	return []catalogOp{
		{"//aiplatform.googleapis.com/projects/p/locations/us-central1/operations/1", "projects/p/locations/us-central1/operations/1", done,
			"aiplatform.googleapis.com", worker.Cancelled, "POST us-central1-aiplatform.googleapis.com /v1/projects/p/locations/us-central1/operations/1:cancel"},
		{`{"name":"projects/p/locations/global/operations/2","service":"aiplatform.googleapis.com"}`, "projects/p/locations/global/operations/2", done,
			"aiplatform.googleapis.com", worker.Cancelled, "POST aiplatform.googleapis.com /v1/projects/p/locations/global/operations/2:cancel"},
		{"//documentai.googleapis.com/projects/p/locations/eu/operations/3", "projects/p/locations/eu/operations/3", lrotest.Script{Final: lrotest.Completed},
			"documentai.googleapis.com", worker.Completed, "POST documentai.eu.rep.googleapis.com /v1/projects/p/locations/eu/operations/3:cancel"},
		{"//sqladmin.googleapis.com/projects/p/operations/4", "projects/p/operations/4", lrotest.Script{DoneAfterPolls: 1},
			"sqladmin.googleapis.com", worker.Cancelled, "POST sqladmin.googleapis.com /v1/projects/p/operations/4/cancel"},
		{"//sqladmin.googleapis.com/projects/p/operations/5", "projects/p/operations/5", lrotest.Script{Final: lrotest.Failed},
			"sqladmin.googleapis.com", worker.Failed, "POST sqladmin.googleapis.com /v1/projects/p/operations/5/cancel"},
		{"//storage.googleapis.com/b/bkt/operations/6", "b/bkt/operations/6", done,
			"storage.googleapis.com", worker.Cancelled, "POST storage.googleapis.com /storage/v1/b/bkt/operations/6/cancel"},
		{"//container.googleapis.com/projects/p/zones/z/operations/7", "projects/p/zones/z/operations/7", done,
			"container.googleapis.com", worker.Cancelled, "POST container.googleapis.com /v1/projects/p/zones/z/operations/7:cancel"},
		{"//firebasehosting.googleapis.com/projects/p/sites/s/customDomains/d/operations/8", "projects/p/sites/s/customDomains/d/operations/8", done,
			"firebasehosting.googleapis.com", worker.Unverified, "POST firebasehosting.googleapis.com /v1/projects/p/sites/s/customDomains/d/operations/8:cancel"},
		{"enterprises/e/devices/d/operations/9", "enterprises/e/devices/d/operations/9", done,
			"androidmanagement.googleapis.com", worker.Cancelled, "POST androidmanagement.googleapis.com /v1/enterprises/e/devices/d/operations/9:cancel"},
		{"//aiplatform.googleapis.com/projects/p/locations/mars-north1/operations/10", "projects/p/locations/mars-north1/operations/10", done,
			"aiplatform.googleapis.com", worker.Invalid, ""},
		{"projects/p/locations/us-central1/operations/11", "projects/p/locations/us-central1/operations/11", done,
			"unknown", worker.Invalid, ""},
		{"//dataproc.googleapis.com/projects/p/regions/r/operations/12", "projects/p/regions/r/operations/12", done,
			"unknown", worker.Invalid, ""},
	}
}

// TestCatalogAPIsEndToEnd runs one worker, configured as for Google Cloud,
// whose every request reaches one fake impersonating the six APIs at their
// real hosts, and checks where each cancel went and how it ended.
func TestCatalogAPIsEndToEnd(t *testing.T) {
	t.Parallel()
	e := emulator(t)
	ps := newPubsub(t, e, queuetest.SubscriptionOptions{}, false)
	config := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(config, []byte(catalogServices), 0o600); err != nil {
		t.Fatal(err)
	}
	table, err := lro.LoadTable(config, lro.FileOptions{SendsTokens: true})
	if err != nil {
		t.Fatal(err)
	}
	fake := lrotest.New(lrotest.Options{Services: table.Services()})
	srv := httptest.NewTLSServer(fake)
	t.Cleanup(srv.Close)
	ops := catalogOps()
	var msgs []message
	for _, o := range ops {
		fake.Set(o.name, o.script)
		msgs = append(msgs, message{data: o.msg})
	}

	admin, logs, stop := startWorkerWithTransport(t, e, lrotest.HostTransport(srv), "--subscription="+ps.sub, "--config="+config)
	before := scrape(t, admin)
	publish(t, e, ps.topic, msgs...)
	waitFor(t, "every outcome", 30*time.Second, func() bool {
		return value(scrape(t, admin), "opcancel_jobs_total", nil) >= float64(len(ops))
	})
	after := scrape(t, admin)
	if err := stop(); err != nil {
		t.Fatalf("worker: %v\n%s", err, logs)
	}

	// Every enabled service's series exist from the start; nothing but
	// "unknown" besides them is ever a service label.
	wantLabels := append(table.Hosts(), "unknown")
	slices.Sort(wantLabels)
	if diff := cmp.Diff(wantLabels, labelValues(before["opcancel_jobs_total"], "service")); diff != "" {
		t.Errorf("service labels before any message (-want +got):\n%s", diff)
	}
	want, got := map[string]float64{}, map[string]float64{}
	for _, o := range ops {
		want[o.service+" "+string(o.want)]++
	}
	for _, s := range after["opcancel_jobs_total"] {
		if s.Value > 0 {
			got[string(s.Metric["service"])+" "+string(s.Metric["outcome"])] = float64(s.Value)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("opcancel_jobs_total (-want +got):\n%s\nlogs:\n%s", diff, logs)
	}
	checkCatalogCancels(t, fake, ops)
}

// labelValues returns the distinct values of label in a metric family, sorted.
func labelValues(v model.Vector, label string) []string {
	var vs []string
	for _, s := range v {
		vs = append(vs, string(s.Metric[model.LabelName(label)]))
	}
	slices.Sort(vs)
	return slices.Compact(vs)
}

// checkCatalogCancels checks that each cancel went to its API's endpoint
// for the name, in its dialect, and that nothing polled what cannot be read.
func checkCatalogCancels(t *testing.T, fake *lrotest.Server, ops []catalogOp) {
	t.Helper()
	for _, o := range ops {
		var cancels []string
		gets := 0
		for _, r := range fake.RequestsFor(o.name) {
			switch r.Kind {
			case "cancel":
				cancels = append(cancels, r.Method+" "+r.Host+" "+r.Path)
			case "get":
				gets++
			}
		}
		wantCancels := []string{o.cancel}
		if o.cancel == "" {
			wantCancels = nil
		}
		if diff := cmp.Diff(wantCancels, cancels); diff != "" {
			t.Errorf("%s: cancels (-want +got):\n%s", o.msg, diff)
		}
		if o.want == worker.Unverified && gets != 0 {
			t.Errorf("%s: %d gets of an operation the API cannot read", o.msg, gets)
		}
	}
	if n := fake.Stats().Unrouted; n != 0 {
		t.Errorf("%d requests the fake could not route", n)
	}
}
