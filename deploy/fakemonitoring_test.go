package deploy

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/monitoring/dashboard/apiv1/dashboardpb"
	"google.golang.org/protobuf/encoding/protojson"
)

// fakeMonitoring is a fake Cloud Monitoring API for
// deploy/monitoring/apply-policies.sh, served with httptest to gcloud. It
// serves, from memory, the alertPolicies methods of the v3 REST API (list,
// get, create, patch) and the dashboards methods of the v1 REST API (list,
// create, and update by etag), and decodes every policy and dashboard it is
// sent strictly, failing the test on one that does not decode. It keeps the
// policies and dashboards it holds and records the HTTP method of every
// call, the policies' in calls and the dashboards' in dashboardCalls; a
// test reads them holding mu.
type fakeMonitoring struct {
	t          *testing.T
	mu         sync.Mutex
	policies   map[string]*monitoringpb.AlertPolicy // by name
	dashboards map[string]*dashboardpb.Dashboard    // by name
	// calls are the alert policies' methods called.
	calls []string
	// dashboardCalls are the dashboards' methods called.
	dashboardCalls []string
}

// ServeHTTP serves a dashboards call by serveDashboards and an alert
// policies call itself.

func (f *fakeMonitoring) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/v1/projects/p/dashboards") {
		f.serveDashboards(w, r)
		return
	}
	f.calls = append(f.calls, r.Method)
	const collection = "/v3/projects/p/alertPolicies"
	var out []byte
	switch {
	case r.Method == http.MethodGet && r.URL.Path == collection:
		list := &monitoringpb.ListAlertPoliciesResponse{}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range f.policies {
				if !yield(k) {
					return
				}
			}
		}) {
			list.AlertPolicies = append(list.AlertPolicies, f.policies[k])
		}
		out, _ = protojson.Marshal(list)
	case r.Method == http.MethodGet && f.policies[strings.TrimPrefix(r.URL.Path, "/v3/")] != nil:
		out, _ = protojson.Marshal(f.policies[strings.TrimPrefix(r.URL.Path, "/v3/")])
	case r.Method == http.MethodPost && r.URL.Path == collection, r.Method == http.MethodPatch:
		p := &monitoringpb.AlertPolicy{}
		b, _ := io.ReadAll(r.Body)
		if err := protojson.Unmarshal(b, p); err != nil {
			f.t.Errorf("%s %s: not an AlertPolicy: %v\n%s", r.Method, r.URL.Path, err, b)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.Name = strings.TrimPrefix(r.URL.Path, "/v3/")
		if r.Method == http.MethodPost {
			p.Name = fmt.Sprintf("projects/p/alertPolicies/%d", len(f.policies)+1)
		}
		f.policies[p.Name] = p
		out, _ = protojson.Marshal(p)
	default:
		http.Error(w, `{"error": {"code": 404, "status": "NOT_FOUND", "message": "no such method"}}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// serveDashboards serves the dashboards methods of the Cloud Monitoring
// v1 REST API that gcloud calls: list, create, and update, which must name
// the current version by its etag.
func (f *fakeMonitoring) serveDashboards(w http.ResponseWriter, r *http.Request) {
	f.dashboardCalls = append(f.dashboardCalls, r.Method)
	const collection = "/v1/projects/p/dashboards"
	var out []byte
	switch {
	case r.Method == http.MethodGet && r.URL.Path == collection:
		list := &dashboardpb.ListDashboardsResponse{}
		for _, k := range slices.Sorted(maps.Keys(f.dashboards)) {
			list.Dashboards = append(list.Dashboards, f.dashboards[k])
		}
		out, _ = protojson.Marshal(list)
	case r.Method == http.MethodPost && r.URL.Path == collection, r.Method == http.MethodPatch:
		d := &dashboardpb.Dashboard{}
		b, _ := io.ReadAll(r.Body)
		if err := protojson.Unmarshal(b, d); err != nil {
			f.t.Errorf("%s %s: not a Dashboard: %v\n%s", r.Method, r.URL.Path, err, b)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		d.Name = strings.TrimPrefix(r.URL.Path, "/v1/")
		if r.Method == http.MethodPost {
			if d.GetEtag() != "" {
				http.Error(w, `{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "etag on create"}}`, http.StatusBadRequest)
				return
			}
			d.Name = fmt.Sprintf("projects/p/dashboards/%d", len(f.dashboards)+1)
		} else if old := f.dashboards[d.Name]; old == nil || d.GetEtag() != old.GetEtag() {
			http.Error(w, `{"error": {"code": 409, "status": "ABORTED", "message": "etag mismatch"}}`, http.StatusConflict)
			return
		}
		d.Etag = fmt.Sprintf("etag-%d", len(f.dashboardCalls))
		f.dashboards[d.Name] = d
		out, _ = protojson.Marshal(d)
	default:
		http.Error(w, `{"error": {"code": 404, "status": "NOT_FOUND", "message": "no such method"}}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}
