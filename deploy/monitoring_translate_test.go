package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
)

// How the PrometheusRule's expressions and texts become Cloud Monitoring's
// (docs/deploy.md#cloud-monitoring-alert-policies). Cloud Monitoring
// evaluates a policy's PromQL over every series of the project that
// Managed Prometheus stores, with no recording rules of its own, so the
// one translation an expression gets is:
//
//   - a recorded series is replaced by its recording rule's expression,
//     the reference's matchers moved into that expression's selector (the
//     rule keeps every label a reference matches on, so that is the same
//     series);
//   - every by (namespace, …) and on (namespace, …) list gains the labels
//     Managed Prometheus gives the target's cluster (project_id, location,
//     cluster), so that two clusters' namespaces of one name stay apart, as
//     the per-cluster Rules keep them.
//
// Texts: Prometheus's {{ $labels.KEY }} becomes Cloud Monitoring's
// ${metric.label.KEY}. Grafana panels lose the dashboard variables
// (namespace, service: the Cloud Monitoring dashboard shows the whole
// project) and $__rate_interval becomes 5m.

// clusterLabels are the labels of Managed Prometheus's prometheus_target
// that tell clusters apart.
const clusterLabels = "project_id, location, cluster, "

// recordedExpr is a recording rule whose expression reads one selector:
// prefix, the selector's metric and matchers, suffix.
type recordedExpr struct {
	prefix, metric, matchers, suffix string
	// kept are the labels its aggregation keeps (by (…)).
	kept []string
}

var (
	singleSelector = regexp.MustCompile(`^(.*?)\b([a-z_]+)\{([^}]*)\}(.*)$`)
	byList         = regexp.MustCompile(`\b(by|on) \(([^)]*)\)`)
	recordedRef    = regexp.MustCompile(`\b([a-z_]+:[a-z_0-9:]+)(\{([^}]*)\})?`)
	matcherLabel   = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	labelTemplate  = regexp.MustCompile(`\{\{ *\$labels\.([a-zA-Z_][a-zA-Z0-9_]*) *\}\}`)
)

// recordings returns the recording rules of groups by the series they record.
func recordings(groups []monitoringv1.RuleGroup) (map[string]recordedExpr, error) {
	out := map[string]recordedExpr{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			expr := strings.TrimSpace(r.Expr.String())
			m := singleSelector.FindStringSubmatch(expr)
			if m == nil || strings.Count(expr, "{") != 1 {
				return nil, fmt.Errorf("recording rule %s: %q does not read exactly one selector", r.Record, expr)
			}
			rec := recordedExpr{prefix: m[1], metric: m[2], matchers: m[3], suffix: m[4]}
			if by := byList.FindStringSubmatch(m[1]); by != nil && by[1] == "by" {
				for _, l := range strings.Split(by[2], ",") {
					rec.kept = append(rec.kept, strings.TrimSpace(l))
				}
			}
			out[r.Record] = rec
		}
	}
	return out, nil
}

// cloudQuery is expr as a Cloud Monitoring policy evaluates it.
func cloudQuery(expr string, recorded map[string]recordedExpr) (string, error) {
	var err error
	q := recordedRef.ReplaceAllStringFunc(strings.TrimSpace(expr), func(ref string) string {
		m := recordedRef.FindStringSubmatch(ref)
		rec, ok := recorded[m[1]]
		if !ok {
			err = fmt.Errorf("%s is recorded by no rule of the file", m[1])
			return ref
		}
		matchers := rec.matchers
		for _, extra := range splitMatchers(m[3]) {
			l := matcherLabel.FindStringSubmatch(extra)
			if l == nil || !slices.Contains(rec.kept, l[1]) {
				err = fmt.Errorf("%s: the matcher %q is on a label its rule does not keep", m[1], extra)
				return ref
			}
			matchers += ", " + extra
		}
		return rec.prefix + rec.metric + "{" + matchers + "}" + rec.suffix
	})
	if err != nil {
		return "", err
	}
	q = byList.ReplaceAllStringFunc(q, func(list string) string {
		m := byList.FindStringSubmatch(list)
		if !strings.HasPrefix(m[2], "namespace") {
			err = fmt.Errorf("%q does not keep the namespace first", list)
			return list
		}
		return m[1] + " (" + clusterLabels + m[2] + ")"
	})
	return q, err
}

// splitMatchers splits a selector's matchers at the commas outside quotes.
func splitMatchers(s string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && quoted && i+1 < len(s):
			cur.WriteByte(c)
			i++
			c = s[i]
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, t)
			}
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// cloudText is a Prometheus annotation as Cloud Monitoring's documentation
// writes it: {{ $labels.KEY }} becomes ${metric.label.KEY}.
func cloudText(s string) string {
	return labelTemplate.ReplaceAllString(s, "$${metric.label.$1}")
}

var (
	dashboardVariable = regexp.MustCompile(`,?\s*(namespace|service)=~"\$(namespace|service)"`)
	legendLabel       = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// resourceLabels are the labels Managed Prometheus puts on the
// prometheus_target resource; a legend names the others as metric labels.
var resourceLabels = []string{"project_id", "location", "cluster", "namespace", "job", "instance"}

// cloudPanelQuery is a Grafana target's expression in a Cloud Monitoring
// PromQL widget: without the dashboard's variables, over 5m.
func cloudPanelQuery(expr string) string {
	q := dashboardVariable.ReplaceAllString(expr, "")
	q = strings.ReplaceAll(q, "{, ", "{")
	q = strings.ReplaceAll(q, "{}", "")
	return strings.ReplaceAll(q, "[$__rate_interval]", "[5m]")
}

// cloudLegend is a Grafana legend format as a Cloud Monitoring legend
// template.
func cloudLegend(format string) string {
	return legendLabel.ReplaceAllStringFunc(format, func(ref string) string {
		l := legendLabel.FindStringSubmatch(ref)[1]
		if slices.Contains(resourceLabels, l) {
			return "${resource.labels." + l + "}"
		}
		return "${metric.labels." + l + "}"
	})
}

// cloudUnits maps the Grafana panels' units to Cloud Monitoring's (UCUM).
var cloudUnits = map[string]string{"ops": "1/s", "reqps": "1/s", "s": "s", "percentunit": "1", "short": "1", "bytes": "By"}
