package deploy

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"opcancel/lro"
	"opcancel/queue"
	"opcancel/worker"
)

// TestManifests renders each overlay and checks its worker: the flags it is
// given, its probes, its grace period, its services file, that its pods are
// locked down and spread, and what sets dev, which runs against the
// emulator, apart from the others.
func TestManifests(t *testing.T) {
	t.Parallel()
	flags := workerFlags(t)
	for _, dir := range overlays {
		t.Run(dir, func(t *testing.T) {
			r := render(t, dir)
			d, c := r.worker(t)
			env := r.workerEnv(t, c)
			checkWorkerFlags(t, dir, flags, c, env)
			checkProbes(t, c, env)
			checkGracePeriod(t, d, env)
			checkServicesFile(t, r, c, env)
			checkPodsLockedDown(t, r)
			checkZoneSpread(t, d)
			if dir == "overlays/dev" {
				checkDevWorker(t, env)
				return
			}
			checkDefaultLease(t, dir, env)
			checkOneOfEach(t, dir, r)
			checkMonitoring(t, r, d)
		})
	}
}

// checkWorkerFlags: every flag given, as an argument or a variable, is one
// the binary has; and every overlay but the base names a project.
func checkWorkerFlags(t *testing.T, dir string, flags map[string]bool, c *corev1.Container, env map[string]string) {
	t.Helper()
	for _, a := range c.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !flags[name] {
			t.Errorf("argument %s: opcancel worker has no --%s", a, name)
		}
	}
	if c.Args[0] != "worker" {
		t.Errorf("args = %v, want the worker subcommand", c.Args)
	}
	for k := range env {
		if name, ok := strings.CutPrefix(k, "OPCANCEL_"); ok {
			flag := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
			if !flags[flag] {
				t.Errorf("%s: opcancel worker has no --%s", k, flag)
			}
		}
	}
	if dir != "base" && env["OPCANCEL_PROJECT"] == "" {
		t.Error("no OPCANCEL_PROJECT")
	}
}

// checkProbes: the probes hit paths the admin server serves, on the port
// --listen opens.
func checkProbes(t *testing.T, c *corev1.Container, env map[string]string) {
	t.Helper()
	_, port, _ := net.SplitHostPort(env["OPCANCEL_LISTEN"])
	var admin *corev1.ContainerPort
	for i, p := range c.Ports {
		if p.Name == "admin" {
			admin = &c.Ports[i]
		}
	}
	if admin == nil || fmt.Sprint(admin.ContainerPort) != port {
		t.Errorf("container port admin = %+v, --listen = %q", admin, env["OPCANCEL_LISTEN"])
	}
	served := adminPaths(t)
	for what, p := range map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s probe", what)
			continue
		}
		if p.HTTPGet.Port.String() != "admin" || served[p.HTTPGet.Path] != http.StatusOK {
			t.Errorf("%s probe %s on %s: the admin server answers %d", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), served[p.HTTPGet.Path])
		}
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("readiness must be /readyz and liveness /healthz")
	}
}

// checkGracePeriod: the grace period covers the drain, the result event of
// a job ending with it, and the confirmation of its ack.
func checkGracePeriod(t *testing.T, d *appsv1.Deployment, env map[string]string) {
	t.Helper()
	shutdown := 25 * time.Second
	if v, ok := env["OPCANCEL_SHUTDOWN_TIMEOUT"]; ok {
		var err error
		if shutdown, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	need := shutdown + worker.DefaultConfig().PublishTimeout + queue.AckConfirmTimeout + 2*time.Second
	if grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second < need {
		t.Errorf("terminationGracePeriodSeconds (%v) is below %s: --shutdown-timeout %s, the publish timeout %s, the ack confirmation timeout %s and 2s to flush",
			ptrString(grace), need, shutdown, worker.DefaultConfig().PublishTimeout, queue.AckConfirmTimeout)
	}
}

// checkServicesFile: the services file mounted where --config points
// parses, with the worker's --auth.
func checkServicesFile(t *testing.T, r *rendered, c *corev1.Container, env map[string]string) {
	t.Helper()
	cm := r.configMaps["opcancel-services"]
	if cm == nil || filepath.Dir(env["OPCANCEL_CONFIG"]) != mountOf(c, "services") {
		t.Errorf("--config %s is not the mounted services ConfigMap", env["OPCANCEL_CONFIG"])
	} else if _, err := lro.ParseTable("services.yaml", []byte(cm.Data[filepath.Base(env["OPCANCEL_CONFIG"])]), lro.FileOptions{SendsTokens: env["OPCANCEL_AUTH"] != "none"}); err != nil {
		t.Errorf("services file: %v", err)
	}
}

// checkPodsLockedDown: every container of every Deployment and Job is
// locked down.
func checkPodsLockedDown(t *testing.T, r *rendered) {
	t.Helper()
	for _, dd := range r.deployments {
		checkPodSecurity(t, dd.Name, &dd.Spec.Template.Spec)
	}
	for _, j := range r.jobs {
		checkPodSecurity(t, j.Name, &j.Spec.Template.Spec)
	}
}

// checkZoneSpread: the worker's pods are spread across zones.
func checkZoneSpread(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if len(d.Spec.Template.Spec.TopologySpreadConstraints) == 0 || d.Spec.Template.Spec.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" {
		t.Error("the worker is not spread across zones")
	}
}

// checkDevWorker: dev runs without credentials against the emulator, with
// the longest lease extension. The emulator loops a backlog whose messages
// wait on the stream longer than the lease; Pub/Sub keeps the crash bound
// of the default lease (docs/operations.md#lease-settings), which
// checkDefaultLease holds the other overlays to.
func checkDevWorker(t *testing.T, env map[string]string) {
	t.Helper()
	if env["OPCANCEL_AUTH"] != "none" || env["PUBSUB_EMULATOR_HOST"] == "" {
		t.Errorf("dev runs with --auth=%s against %q, want none against the emulator", env["OPCANCEL_AUTH"], env["PUBSUB_EMULATOR_HOST"])
	}
	if lease := env["OPCANCEL_LEASE_EXTENSION"]; lease != "10m" {
		t.Errorf("dev runs with --lease-extension %q, want 10m, the longest Pub/Sub allows: the emulator's backlog drains", lease)
	}
}

// checkDefaultLease: every overlay but dev leaves --lease-extension at its
// default, whose crash bound docs/operations.md#lease-settings gives.
func checkDefaultLease(t *testing.T, dir string, env map[string]string) {
	t.Helper()
	if lease := env["OPCANCEL_LEASE_EXTENSION"]; lease != "" {
		t.Errorf("%s sets --lease-extension %s, want the default (%v): a crashed worker's messages back within it", dir, lease, queue.DefaultLeaseExtension)
	}
}

// checkOneOfEach: every overlay but dev renders one each of the
// PodDisruptionBudget, HorizontalPodAutoscaler, Service and NetworkPolicy.
func checkOneOfEach(t *testing.T, dir string, r *rendered) {
	t.Helper()
	if len(r.pdbs) != 1 || len(r.hpas) != 1 || len(r.services) != 1 || len(r.netpols) != 1 {
		t.Errorf("%s renders %v", dir, r.kinds)
	}
}

// workerFlags returns the flags `opcancel worker --help` documents.
func workerFlags(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command(binary(t), "worker", "--help").Output()
	if err != nil {
		t.Fatalf("opcancel worker --help: %v", err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllSubmatch(out, -1) {
		flags[string(m[1])] = true
	}
	return flags
}

// mountOf is where the container mounts the volume, "" if it does not.
func mountOf(c *corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// checkPodSecurity: the pod runs as non-root with seccomp RuntimeDefault,
// and each of its containers has a read-only root, no privilege escalation,
// every capability dropped, and CPU requests and memory limits.
func checkPodSecurity(t *testing.T, name string, spec *corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod security context %+v, want runAsNonRoot and seccomp RuntimeDefault", name, psc)
	}
	for _, c := range spec.Containers {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
			sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s/%s: container security context %+v", name, c.Name, sc)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s/%s: no requests or limits", name, c.Name)
		}
	}
}

// ptrString prints *p, or "unset" for nil.
func ptrString(p *int64) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
