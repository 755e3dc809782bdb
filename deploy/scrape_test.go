package deploy

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// checkMonitoring: an overlay is scraped and alerted on once, by the
// Prometheus Operator (ServiceMonitor, PrometheusRule) or by Managed
// Prometheus (PodMonitoring, Rules). Either scrape reaches the worker's admin
// port on /metrics and labels its series job="opcancel", which every alert
// reads; Managed Prometheus's Rules carry the PrometheusRule's groups.
func checkMonitoring(t *testing.T, r *rendered, d *appsv1.Deployment) {
	t.Helper()
	if r.name == "overlays/gke" {
		if len(r.podMonitorings) != 1 || len(r.gmpRules) != 1 || len(r.serviceMonitors)+len(r.rules) != 0 {
			t.Fatalf("%s renders %v, want one PodMonitoring and one Rules, no Prometheus Operator kinds", r.name, r.kinds)
		}
		checkPodMonitoring(t, r.podMonitorings[0], d)
		checkSameRules(t, r.gmpRules[0])
		return
	}
	if len(r.serviceMonitors) != 1 || len(r.rules) != 1 || len(r.podMonitorings)+len(r.gmpRules) != 0 {
		t.Fatalf("%s renders %v, want one ServiceMonitor and one PrometheusRule", r.name, r.kinds)
	}
	sm, svc := r.serviceMonitors[0], r.services[0]
	if ep := sm.Spec.Endpoints[0]; ep.Port != "admin" || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor scrapes %s %s", ep.Port, ep.Path)
	}
	sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(svc.Labels)) {
		t.Errorf("the ServiceMonitor does not select the Service %s (%v)", svc.Name, err)
	}
	if job := svc.Labels[sm.Spec.JobLabel]; job != "opcancel" {
		t.Errorf("the scrape's job label is %q (the Service's %s), want opcancel, which the alerts read", job, sm.Spec.JobLabel)
	}
	if r.name == "overlays/prod" {
		rel := sm.Labels["release"]
		if rel == "" || r.rules[0].Labels["release"] != rel {
			t.Errorf("release labels: ServiceMonitor %q, PrometheusRule %q; want kube-prometheus-stack's release on both", rel, r.rules[0].Labels["release"])
		}
	}
}

func checkPodMonitoring(t *testing.T, pm *gmpPodMonitoring, d *appsv1.Deployment) {
	t.Helper()
	if pm.Name != "opcancel" {
		t.Errorf("PodMonitoring %s: its name is the job label, want opcancel", pm.Name)
	}
	sel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the PodMonitoring does not select the worker pods (%v)", err)
	}
	if len(pm.Spec.Endpoints) != 1 || pm.Spec.Endpoints[0].Port.String() != "admin" || pm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("PodMonitoring endpoints %+v, want the admin port's /metrics", pm.Spec.Endpoints)
	}
	if m := pm.Spec.TargetLabels.Metadata; m == nil || !slices.Contains(*m, "pod") {
		t.Errorf("PodMonitoring target labels %v lack pod, on which the pod alerts join", m)
	}
}

// checkSameRules: the gke overlay's Rules are the base's PrometheusRule
// groups, field for field.
func checkSameRules(t *testing.T, got *gmpRules) {
	t.Helper()
	b, err := json.Marshal(render(t, "base").rules[0].Spec.Groups)
	if err != nil {
		t.Fatal(err)
	}
	var want []gmpRuleGroup
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Spec.Groups); diff != "" {
		t.Errorf("the Rules differ from the PrometheusRule (-PrometheusRule +Rules):\n%s", diff)
	}
}
