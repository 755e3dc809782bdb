package deploy

import (
	"bytes"
	"os/exec"
	"regexp"
	"sync"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// rendered is one kustomization, rendered and decoded strictly.
type rendered struct {
	name            string
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	configMaps      map[string]*corev1.ConfigMap // by name without the hash suffix
	services        []*corev1.Service
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*monitoringv1.ServiceMonitor
	rules           []*monitoringv1.PrometheusRule
	podMonitorings  []*gmpPodMonitoring
	gmpRules        []*gmpRules
	netpols         []*networkingv1.NetworkPolicy
	serviceAccounts []*corev1.ServiceAccount
	kinds           []string
}

// decode decodes a YAML object strictly into a T, refusing unknown fields.
func decode[T any](t *testing.T, doc []byte) *T {
	t.Helper()
	out := new(T)
	if err := sigsyaml.UnmarshalStrict(doc, out); err != nil {
		t.Fatalf("strict decoding of %T: %v\n%s", out, err, doc)
	}
	return out
}

// hashSuffix is the suffix kustomize appends to a generated ConfigMap's
// name.
var hashSuffix = regexp.MustCompile(`-[a-z0-9]{10}$`)

// kustomized caches `kubectl kustomize` by directory: several tests check
// the same rendering.
var kustomized sync.Map // dir → func() ([]byte, error)

// kustomize is the output of `kubectl kustomize dir`; the test is skipped
// where kubectl is not installed.
func kustomize(t *testing.T, dir string) []byte {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed: cannot render the kustomizations")
	}
	f, _ := kustomized.LoadOrStore(dir, sync.OnceValues(func() ([]byte, error) {
		return exec.Command(kubectl, "kustomize", dir).CombinedOutput()
	}))
	out, err := f.(func() ([]byte, error))()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
	}
	return out
}

// render renders the kustomization in dir and decodes each object strictly
// into its API type; an object of a kind it does not know fails the test.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	out := kustomize(t, dir)
	r := &rendered{name: dir, configMaps: map[string]*corev1.ConfigMap{}}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		r.kinds = append(r.kinds, meta.APIVersion+"/"+meta.Kind)
		switch meta.APIVersion + "/" + meta.Kind {
		case "apps/v1/Deployment":
			r.deployments = append(r.deployments, decode[appsv1.Deployment](t, doc))
		case "batch/v1/Job":
			r.jobs = append(r.jobs, decode[batchv1.Job](t, doc))
		case "v1/ConfigMap":
			o := decode[corev1.ConfigMap](t, doc)
			r.configMaps[hashSuffix.ReplaceAllString(o.Name, "")] = o
		case "v1/Service":
			r.services = append(r.services, decode[corev1.Service](t, doc))
		case "v1/ServiceAccount":
			r.serviceAccounts = append(r.serviceAccounts, decode[corev1.ServiceAccount](t, doc))
		case "monitoring.googleapis.com/v1/PodMonitoring":
			r.podMonitorings = append(r.podMonitorings, decode[gmpPodMonitoring](t, doc))
		case "monitoring.googleapis.com/v1/Rules":
			r.gmpRules = append(r.gmpRules, decode[gmpRules](t, doc))
		case "networking.k8s.io/v1/NetworkPolicy":
			r.netpols = append(r.netpols, decode[networkingv1.NetworkPolicy](t, doc))
		case "v1/Namespace":
			decode[corev1.Namespace](t, doc)
		case "autoscaling/v2/HorizontalPodAutoscaler":
			r.hpas = append(r.hpas, decode[autoscalingv2.HorizontalPodAutoscaler](t, doc))
		case "policy/v1/PodDisruptionBudget":
			r.pdbs = append(r.pdbs, decode[policyv1.PodDisruptionBudget](t, doc))
		case "monitoring.coreos.com/v1/ServiceMonitor":
			r.serviceMonitors = append(r.serviceMonitors, decode[monitoringv1.ServiceMonitor](t, doc))
		case "monitoring.coreos.com/v1/PrometheusRule":
			r.rules = append(r.rules, decode[monitoringv1.PrometheusRule](t, doc))
		default:
			t.Fatalf("%s renders %s/%s, which this test does not know how to check", dir, meta.APIVersion, meta.Kind)
		}
	}
	return r
}

// worker is the opcancel Deployment and its first container, the worker.
func (r *rendered) worker(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	for _, d := range r.deployments {
		if d.Name == "opcancel" {
			return d, &d.Spec.Template.Spec.Containers[0]
		}
	}
	t.Fatalf("%s has no opcancel Deployment", r.name)
	return nil, nil
}

// workerEnv returns the worker's environment: its ConfigMap plus env.
func (r *rendered) workerEnv(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		cm, ok := r.configMaps[hashSuffix.ReplaceAllString(from.ConfigMapRef.Name, "")]
		if !ok {
			t.Fatalf("envFrom names a missing ConfigMap %s", from.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}
