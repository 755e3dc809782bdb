package deploy

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	sigsyaml "sigs.k8s.io/yaml"
)

// stackdriverGauge is how Google's Custom Metrics Stackdriver Adapter names
// a Managed Prometheus gauge: prometheus.googleapis.com|NAME|gauge.
var stackdriverGauge = regexp.MustCompile(`^prometheus\.googleapis\.com\|([a-zA-Z_:][a-zA-Z0-9_:]*)\|gauge$`)

// TestGKEAutoscalerReadsAnExportedGaugeThroughGooglesAdapter: the gke
// overlay renders no prometheus-adapter object, and its autoscaler (decoded
// strictly into autoscaling/v2 by render) scales per pod on a gauge the
// worker exports, named as the Custom Metrics Stackdriver Adapter serves
// Managed Prometheus series, against an average value per pod.
func TestGKEAutoscalerReadsAnExportedGaugeThroughGooglesAdapter(t *testing.T) {
	t.Parallel()
	for _, doc := range bytes.Split(kustomize(t, "overlays/gke"), []byte("\n---\n")) {
		var o struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := sigsyaml.Unmarshal(doc, &o); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(o.Metadata.Name, "prometheus-adapter") || strings.HasPrefix(o.APIVersion, "apiregistration.k8s.io/") {
			t.Errorf("the gke overlay renders %s %s %s: prometheus-adapter is not installed there", o.APIVersion, o.Kind, o.Metadata.Name)
		}
	}
	r := render(t, "overlays/gke")
	if len(r.hpas) != 1 {
		t.Fatalf("the gke overlay renders %d autoscalers", len(r.hpas))
	}
	types := exportedTypes(t)
	metrics := r.hpas[0].Spec.Metrics
	if len(metrics) == 0 {
		t.Fatal("the gke autoscaler scales on nothing")
	}
	for _, m := range metrics {
		if m.Type != autoscalingv2.PodsMetricSourceType || m.Pods == nil {
			t.Errorf("the gke autoscaler scales on a %s metric, want Pods", m.Type)
			continue
		}
		name := stackdriverGauge.FindStringSubmatch(m.Pods.Metric.Name)
		switch {
		case name == nil:
			t.Errorf("metric %q is not a Managed Prometheus gauge as the Stackdriver adapter names it (prometheus.googleapis.com|NAME|gauge)", m.Pods.Metric.Name)
		case types[name[1]] != dto.MetricType_GAUGE:
			t.Errorf("metric %q: the worker exports no gauge %s", m.Pods.Metric.Name, name[1])
		}
		if m.Pods.Target.Type != autoscalingv2.AverageValueMetricType || m.Pods.Target.AverageValue == nil || m.Pods.Target.AverageValue.IsZero() {
			t.Errorf("metric %q: target %+v, want an AverageValue per pod", m.Pods.Metric.Name, m.Pods.Target)
		}
	}
}
