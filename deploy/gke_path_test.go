package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// gkePath is docs/deploy.md's section "GKE with nothing else installed".
func gkePath(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "deploy.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## GKE with nothing else installed\n")
	if !ok {
		t.Fatal("docs/deploy.md has no section GKE with nothing else installed")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	return section
}

// TestGKEPathStartsFromAnEmptyProject: the path says, as commands, each
// step an empty project needs before the worker runs, is alerted on and
// pages: the registry and Docker's login to it, the cluster's ranges for
// the NetworkPolicy, the Google service account, its Workload Identity
// binding for opcancel/opcancel, TokenCreator on itself for Vault, a
// notification channel, and the worker's alerts among the policies.
func TestGKEPathStartsFromAnEmptyProject(t *testing.T) {
	t.Parallel()
	section := strings.Join(strings.Fields(gkePath(t)), " ")
	for _, want := range []string{
		"gcloud artifacts repositories create opcancel --repository-format=docker",
		"gcloud auth configure-docker",
		"cluster-ranges.env",
		"gcloud iam service-accounts create opcancel",
		`--role=roles/iam.workloadIdentityUser --member="serviceAccount:${PROJECT}.svc.id.goog[opcancel/opcancel]"`,
		`--role=roles/iam.serviceAccountTokenCreator --member="serviceAccount:$SA"`,
		"deploy/pubsub/provision.sh",
		"../../components/doctor",
		"gcloud beta monitoring channels create",
		"gcloud beta monitoring channels list",
		"WORKER_ALERTS=yes deploy/monitoring/apply-policies.sh",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("the GKE path lacks %q", want)
		}
	}
}

// TestGKEPathSetsTheProjectAndRanges runs the path's step that writes the
// project and the cluster's ranges into a copy of the production
// component, with a gcloud that prints the ranges as GKE does (tab
// separated): the component names the project everywhere it is marked,
// and cluster-ranges.env holds the two ranges the NetworkPolicy reads.
func TestGKEPathSetsTheProjectAndRanges(t *testing.T) {
	t.Parallel()
	var step string
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(gkePath(t), -1) {
		if strings.Contains(block[1], "cluster-ranges.env") {
			step = block[1]
		}
	}
	if step == "" {
		t.Fatal("no step of the GKE path writes cluster-ranges.env")
	}
	dir := t.TempDir()
	component := filepath.Join(dir, "deploy", "components", "production")
	if err := os.MkdirAll(component, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"kustomization.yaml", "cluster-ranges.env"} {
		b, err := os.ReadFile(filepath.Join("components", "production", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(component, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin")
	gcloud := "#!/bin/sh\nprintf '10.8.0.0/14\\t34.118.0.0/20\\n'\n"
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "gcloud"), []byte(gcloud), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", step)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "PROJECT=their-project", "REGION=europe-west1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	k, err := os.ReadFile(filepath.Join(component, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(k), "my-project") || strings.Count(string(k), "their-project") != strings.Count(string(k), "# PROJECT") {
		t.Errorf("the component after the step:\n%s\nwant their-project in each place marked PROJECT", k)
	}
	env, err := os.ReadFile(filepath.Join(component, "cluster-ranges.env"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(env), "POD_CIDR=10.8.0.0/14\nSERVICE_CIDR=34.118.0.0/20\n"; got != want {
		t.Errorf("cluster-ranges.env:\n%s\nwant\n%s", got, want)
	}
}
