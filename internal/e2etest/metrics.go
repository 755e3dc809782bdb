package e2etest

import (
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is what Scrape returns: the samples of each family, by name.
type Metrics = map[string]model.Vector

// Scrape reads the metrics at addr (a worker's admin address, or
// Prometheus's own).
func Scrape(t testing.TB, addr string) Metrics {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	out := Metrics{}
	for name, f := range fams {
		if out[name], err = expfmt.ExtractSamples(&expfmt.DecodeOptions{Timestamp: model.Now()}, f); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Value sums the samples of family name whose labels include want; -1 when
// there are none.
func Value(m Metrics, name string, want map[string]string) float64 {
	total, found := 0.0, false
	for _, s := range m[name] {
		match := true
		for k, v := range want {
			match = match && string(s.Metric[model.LabelName(k)]) == v
		}
		if match {
			total += float64(s.Value)
			found = true
		}
	}
	if !found {
		return -1
	}
	return total
}

// Status is the HTTP status of GET addr+path, 0 when unreachable.
func Status(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
