package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// grafanaDashboard is the part of the dashboard JSON these checks read.
type grafanaDashboard struct {
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Multi bool            `json:"multi"`
			Query json.RawMessage `json:"query"` // a string, or {query, refId}
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		Title       string `json:"title"`
		FieldConfig struct {
			Defaults struct {
				Custom struct {
					Stacking struct {
						Mode string `json:"mode"`
					} `json:"stacking"`
				} `json:"custom"`
			} `json:"defaults"`
		} `json:"fieldConfig"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

var selectorOf = regexp.MustCompile(`\b([a-z_]+)\{([^}]*)\}`)

// TestDashboardFollowsTheServiceVariable: the dashboard has a service
// variable that every per-service query obeys, a success ratio per service,
// outcomes stacked by kind, and the pods' restarts and memory.
func TestDashboardFollowsTheServiceVariable(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("dashboards", "opcancel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := sigsyaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	hasService := false
	for _, v := range d.Templating.List {
		if v.Name == "service" && v.Multi && strings.Contains(string(v.Query), "label_values(opcancel_jobs_total") {
			hasService = true
		}
	}
	if !hasService {
		t.Error("no multi-valued service variable over opcancel_jobs_total's services")
	}
	series := exportedSeries(t)
	titles := map[string]bool{}
	for _, p := range d.Panels {
		titles[p.Title] = true
		for _, tg := range p.Targets {
			for _, m := range selectorOf.FindAllStringSubmatch(tg.Expr, -1) {
				if slices.Contains(series[m[1]], "service") && !strings.Contains(m[2], `service=~"$service"`) {
					t.Errorf("panel %q: %s ignores the service variable", p.Title, m[0])
				}
			}
		}
		if strings.HasPrefix(p.Title, "Outcomes by kind") && (p.FieldConfig.Defaults.Custom.Stacking.Mode != "normal" || !strings.Contains(p.Targets[0].Expr, "sum by (outcome)")) {
			t.Errorf("panel %q does not stack the outcomes by kind", p.Title)
		}
	}
	for _, want := range []string{"Outcomes by kind (stacked)", "Success ratio per service", "Adaptive throttling", "Rate-limit waits", "Pod restarts", "Pod memory",
		"Refused before sending: invalid and forbidden"} {
		if !titles[want] {
			t.Errorf("no panel %q", want)
		}
	}
}
