package deploy

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Google Managed Prometheus's monitoring.googleapis.com/v1 PodMonitoring and
// Rules, mirrored for strict decoding of the gke overlay. The module that
// defines them (GoogleCloudPlatform/prometheus-engine, package
// pkg/operator/apis/monitoring/v1, files pod_types.go and rules_types.go)
// pulls in Prometheus, Thanos and controller-runtime, so the kit's tests
// carry this copy of their fields and JSON names instead. It leaves out the
// status (never written) and ScrapeEndpoint's inline HTTP client settings
// (authorization, TLS, proxy), which the kit does not use: a manifest that
// sets one fails the decoding and must add it here first.

type gmpPodMonitoring struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              gmpPodMonitoringSpec `json:"spec"`
}

type gmpPodMonitoringSpec struct {
	Selector      metav1.LabelSelector `json:"selector"`
	Endpoints     []gmpScrapeEndpoint  `json:"endpoints"`
	TargetLabels  gmpTargetLabels      `json:"targetLabels,omitempty"`
	Limits        *gmpScrapeLimits     `json:"limits,omitempty"`
	FilterRunning *bool                `json:"filterRunning,omitempty"`
}

type gmpScrapeEndpoint struct {
	Port             intstr.IntOrString  `json:"port"`
	Scheme           string              `json:"scheme,omitempty"`
	Path             string              `json:"path,omitempty"`
	Params           map[string][]string `json:"params,omitempty"`
	Interval         string              `json:"interval,omitempty"`
	Timeout          string              `json:"timeout,omitempty"`
	MetricRelabeling []gmpRelabelingRule `json:"metricRelabeling,omitempty"`
}

type gmpTargetLabels struct {
	Metadata *[]string         `json:"metadata,omitempty"`
	FromPod  []gmpLabelMapping `json:"fromPod,omitempty"`
}

type gmpLabelMapping struct {
	From string `json:"from"`
	To   string `json:"to,omitempty"`
}

type gmpScrapeLimits struct {
	Samples          uint64 `json:"samples,omitempty"`
	Labels           uint64 `json:"labels,omitempty"`
	LabelNameLength  uint64 `json:"labelNameLength,omitempty"`
	LabelValueLength uint64 `json:"labelValueLength,omitempty"`
}

type gmpRelabelingRule struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    string   `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  string   `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

type gmpRules struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              gmpRulesSpec `json:"spec"`
}

type gmpRulesSpec struct {
	Groups []gmpRuleGroup `json:"groups"`
}

type gmpRuleGroup struct {
	Name     string    `json:"name"`
	Interval string    `json:"interval,omitempty"`
	Rules    []gmpRule `json:"rules"`
}

type gmpRule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}
