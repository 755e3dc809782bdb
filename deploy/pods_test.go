package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// overlays are the kustomizations a user applies (and the base they share).
var overlays = []string{"base", "overlays/dev", "overlays/prod", "overlays/gke"}

// TestPodsCarryNoKubernetesToken: no pod of the kit mounts a service
// account token it never uses (the worker does not call the Kubernetes API,
// and Workload Identity needs none).
func TestPodsCarryNoKubernetesToken(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		specs := map[string]*corev1.PodSpec{}
		for _, d := range r.deployments {
			specs[d.Name] = &d.Spec.Template.Spec
		}
		for _, j := range r.jobs {
			specs[j.Name] = &j.Spec.Template.Spec
		}
		for name, spec := range specs {
			if a := spec.AutomountServiceAccountToken; a == nil || *a {
				t.Errorf("%s: %s mounts a service account token (automountServiceAccountToken unset or true)", dir, name)
			}
		}
		for _, sa := range r.serviceAccounts {
			if a := sa.AutomountServiceAccountToken; a == nil || *a {
				t.Errorf("%s: ServiceAccount %s lets pods mount its token", dir, sa.Name)
			}
		}
	}
}

// TestGoMemoryLimitUnderTheContainerLimit: GOMEMLIMIT is about 90 % of the
// worker's memory limit, so the Go heap stays under it (at 100 % the kernel
// kills before the GC tightens).
func TestGoMemoryLimitUnderTheContainerLimit(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		_, c := r.worker(t)
		var env *corev1.EnvVar
		for i := range c.Env {
			if c.Env[i].Name == "GOMEMLIMIT" {
				env = &c.Env[i]
			}
		}
		if env == nil || env.Value == "" {
			t.Errorf("%s: GOMEMLIMIT is not set to a value (%+v)", dir, env)
			continue
		}
		soft, err := parseGoMemLimit(env.Value)
		if err != nil {
			t.Errorf("%s: GOMEMLIMIT: %v", dir, err)
			continue
		}
		limit := c.Resources.Limits.Memory().Value()
		if ratio := float64(soft) / float64(limit); ratio < 0.85 || ratio > 0.95 {
			t.Errorf("%s: GOMEMLIMIT %s is %.0f %% of the memory limit %s, want about 90 %%", dir, env.Value, 100*ratio, c.Resources.Limits.Memory())
		}
	}
}

// parseGoMemLimit reads GOMEMLIMIT as the Go runtime does: a number of
// bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func parseGoMemLimit(s string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	num := s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a Go memory limit (a number with an optional B, KiB, MiB, GiB or TiB)", s)
	}
	return n << shift, nil
}

// TestDisruptionsAndReplicas: the PodDisruptionBudget lets unhealthy pods
// be evicted (an unready fleet during a Pub/Sub outage must not block node
// drains), and where an autoscaler scales the worker the Deployment sets
// no replicas (an apply would reset the autoscaler's count).
func TestDisruptionsAndReplicas(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		for _, pdb := range r.pdbs {
			if p := pdb.Spec.UnhealthyPodEvictionPolicy; p == nil || *p != policyv1.AlwaysAllow {
				t.Errorf("%s: PodDisruptionBudget %s: unhealthyPodEvictionPolicy %v, want AlwaysAllow", dir, pdb.Name, p)
			}
		}
		d, _ := r.worker(t)
		for _, h := range r.hpas {
			if h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == d.Name && d.Spec.Replicas != nil {
				t.Errorf("%s: the Deployment sets replicas: %d, which every apply resets under the autoscaler", dir, *d.Spec.Replicas)
			}
		}
	}
}
