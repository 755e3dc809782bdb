package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// TestDoctorComponentChecksTheWorkerBeforeItStarts renders the gke overlay
// with the doctor component: the worker pod gets an init container that
// runs `opcancel doctor --fail-on=config` from the worker's image (so that
// an API that does not answer does not hold new pods in Init), with the
// worker's variables and services file, and the pod's namespace and
// service account (for the fix of a missing Workload Identity binding),
// locked down like the worker, and every flag of the doctor but its own
// (--output, --fail-on) is one of the worker's (so the worker's variables
// mean the same to it), but for --batches-topic, which means what it means
// to submit and wait.
func TestDoctorComponentChecksTheWorkerBeforeItStarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	gke, _ := filepath.Rel(dir, filepath.Join(abs, "overlays", "gke"))
	doctor, _ := filepath.Rel(dir, filepath.Join(abs, "components", "doctor"))
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + gke + "\ncomponents:\n  - " + doctor + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	r := render(t, dir)
	d, worker := r.worker(t)
	inits := d.Spec.Template.Spec.InitContainers
	if len(inits) != 1 {
		t.Fatalf("%d init containers, want the doctor", len(inits))
	}
	c := inits[0]
	if want := []string{"doctor", "--fail-on=config"}; c.Name != "doctor" || !reflect.DeepEqual(c.Args, want) || c.Image != worker.Image {
		t.Errorf("init container %s %v %s, want doctor %v %s", c.Name, c.Args, c.Image, want, worker.Image)
	}
	fields := map[string]string{}
	for _, v := range c.Env {
		if v.ValueFrom != nil && v.ValueFrom.FieldRef != nil {
			fields[v.Name] = v.ValueFrom.FieldRef.FieldPath
		}
	}
	if want := map[string]string{"POD_NAMESPACE": "metadata.namespace", "POD_SERVICE_ACCOUNT": "spec.serviceAccountName"}; !reflect.DeepEqual(fields, want) {
		t.Errorf("the doctor's downward API variables %v, want %v", fields, want)
	}
	if !reflect.DeepEqual(c.EnvFrom, worker.EnvFrom) || !reflect.DeepEqual(c.VolumeMounts, worker.VolumeMounts) {
		t.Errorf("the doctor's variables %v and mounts %v are not the worker's %v, %v", c.EnvFrom, c.VolumeMounts, worker.EnvFrom, worker.VolumeMounts)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		c.Resources.Limits.Memory().IsZero() {
		t.Errorf("the doctor is not locked down like the worker: %+v, %+v", sc, c.Resources)
	}
	out, err := exec.Command(binary(t), "doctor", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	workers := workerFlags(t)
	for _, m := range regexp.MustCompile(`--([a-z][a-z-]+)`).FindAllSubmatch(out, -1) {
		// --batches-topic is submit's and wait's, with the same meaning; the
		// worker has none.
		if f := string(m[1]); f != "help" && f != "output" && f != "fail-on" && f != "batches-topic" && !workers[f] {
			t.Errorf("doctor --%s is no flag of the worker's: OPCANCEL_ variables would mean another thing to it", f)
		}
	}
}
