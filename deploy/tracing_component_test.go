package deploy

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestTracingComponent: with deploy/components/tracing, the worker sends
// OTLP to the collector it names, and the NetworkPolicy lets it reach that
// collector's pods on OTLP's ports, and no other pod or address.
func TestTracingComponent(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{"overlays/dev", "overlays/prod", "overlays/gke"} {
		r := render(t, withComponent(t, overlay, "components/tracing"))
		_, c := r.worker(t)
		np := workerPolicy(t, r)
		if np == nil {
			continue
		}
		endpoint, err := url.Parse(r.workerEnv(t, c)["OTEL_EXPORTER_OTLP_ENDPOINT"])
		if err != nil || endpoint.Host == "" {
			t.Fatalf("%s with tracing: OTEL_EXPORTER_OTLP_ENDPOINT %v", overlay, err)
		}
		// service.namespace.svc[.cluster.local]
		parts := strings.Split(endpoint.Hostname(), ".")
		if len(parts) < 3 || parts[2] != "svc" {
			t.Fatalf("%s with tracing: the endpoint %s is not a Service's name in the cluster", overlay, endpoint)
		}
		port, _ := strconv.Atoi(endpoint.Port())
		if port != 4317 && port != 4318 {
			t.Errorf("%s with tracing: the endpoint's port %d is not OTLP's", overlay, port)
		}
		for _, p := range []int{4317, 4318} {
			if w := (egressWant{"TCP", p, collector(parts[1])}); !egressAllows(np, w) {
				t.Errorf("%s with tracing: the worker cannot reach %s", overlay, w)
			}
			for _, w := range []egressWant{
				{"TCP", p, dest{ns: map[string]string{"kubernetes.io/metadata.name": parts[1]}, pod: map[string]string{"app": "other"}}},
				{"TCP", p, dest{ip: googleAPIs[0]}},
			} {
				if egressAllows(np, w) {
					t.Errorf("%s with tracing: OTLP reaches %s, which is not the collector", overlay, w)
				}
			}
		}
	}
}

// collector is a pod of the tracing component's collector in namespace ns.
func collector(ns string) dest {
	return dest{ns: map[string]string{"kubernetes.io/metadata.name": ns}, pod: map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}}
}
