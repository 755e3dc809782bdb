package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"opcancel/lro"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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

// TestNetworkPolicy: the worker accepts connections on its admin port only,
// only from the scraper's namespace; it may resolve names, reach HTTPS and
// the GKE metadata server, and, in dev, the emulator and the fake API.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		d, c := r.worker(t)
		var np *networkingv1.NetworkPolicy
		for _, p := range r.netpols {
			sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
			if err != nil {
				t.Fatal(err)
			}
			if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
				np = p
			}
		}
		if np == nil {
			t.Errorf("%s: no NetworkPolicy selects the worker", dir)
			continue
		}
		types := fmt.Sprint(np.Spec.PolicyTypes)
		if !strings.Contains(types, "Ingress") || !strings.Contains(types, "Egress") {
			t.Errorf("%s: policy types %s, want Ingress and Egress", dir, types)
		}
		checkIngress(t, dir, np, c)
		wanted := []egressWant{{"UDP", 53, ""}, {"TCP", 443, ""}, {"TCP", 80, "169.254.169.254"}}
		if dir == "overlays/dev" {
			wanted = append(wanted, devEgress(t, r, c)...)
		}
		for _, w := range wanted {
			if !egressAllows(np, w) {
				t.Errorf("%s: the NetworkPolicy does not let the worker reach %s port %d %s", dir, w.protocol, w.port, w.ip)
			}
		}
	}
}

// checkIngress: every ingress rule names the admin port only, and peers by
// namespace only (a rule without peers would admit everyone).
func checkIngress(t *testing.T, dir string, np *networkingv1.NetworkPolicy, c *corev1.Container) {
	t.Helper()
	if len(np.Spec.Ingress) == 0 {
		t.Errorf("%s: no ingress rule: the scraper cannot reach /metrics", dir)
	}
	for _, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Errorf("%s: an ingress rule admits every peer", dir)
		}
		for _, peer := range rule.From {
			if peer.NamespaceSelector == nil || len(peer.NamespaceSelector.MatchLabels)+len(peer.NamespaceSelector.MatchExpressions) == 0 || peer.IPBlock != nil {
				t.Errorf("%s: ingress peer %+v is not one labelled namespace", dir, peer)
			}
		}
		if len(rule.Ports) == 0 {
			t.Errorf("%s: an ingress rule opens every port", dir)
		}
		for _, p := range rule.Ports {
			if p.Port == nil || (p.Port.String() != "admin" && p.Port.IntValue() != int(adminPort(c))) {
				t.Errorf("%s: ingress opens port %v, want only the admin port", dir, p.Port)
			}
		}
	}
}

func adminPort(c *corev1.Container) int32 {
	for _, p := range c.Ports {
		if p.Name == "admin" {
			return p.ContainerPort
		}
	}
	return -1
}

// egressWant is a destination the worker must reach; ip empty means any.
type egressWant struct {
	protocol string
	port     int
	ip       string
}

func egressAllows(np *networkingv1.NetworkPolicy, w egressWant) bool {
	for _, rule := range np.Spec.Egress {
		portOK := len(rule.Ports) == 0
		for _, p := range rule.Ports {
			proto := "TCP"
			if p.Protocol != nil {
				proto = string(*p.Protocol)
			}
			if proto == w.protocol && (p.Port == nil || p.Port.IntValue() == w.port) {
				portOK = true
			}
		}
		if portOK && peersAllow(rule.To, w.ip) {
			return true
		}
	}
	return false
}

// peersAllow: no peers means anywhere; a pod peer stands for in-cluster
// destinations (ip "cluster"); an ipBlock must contain the address.
func peersAllow(peers []networkingv1.NetworkPolicyPeer, ip string) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil && ip != "" && ip != "cluster":
			if _, n, err := net.ParseCIDR(p.IPBlock.CIDR); err == nil && n.Contains(net.ParseIP(ip)) {
				return true
			}
		case p.PodSelector != nil && ip == "cluster":
			return true
		}
	}
	return false
}

// devEgress: the dev worker reaches the emulator and every endpoint of its
// services file, in the cluster, over plain ports.
func devEgress(t *testing.T, r *rendered, c *corev1.Container) []egressWant {
	t.Helper()
	env := r.workerEnv(t, c)
	var out []egressWant
	_, port, err := net.SplitHostPort(env["PUBSUB_EMULATOR_HOST"])
	if err != nil {
		t.Fatalf("PUBSUB_EMULATOR_HOST: %v", err)
	}
	n, _ := strconv.Atoi(port)
	out = append(out, egressWant{"TCP", n, "cluster"})
	table, err := lro.ParseTable("services.yaml", []byte(r.configMaps["opcancel-services"].Data["services.yaml"]), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range table.Services() {
		n, _ := strconv.Atoi(s.Endpoint.Port())
		out = append(out, egressWant{"TCP", n, "cluster"})
	}
	return out
}

var digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// TestDockerfilePinsBaseImagesByDigest: every base image of the Dockerfile
// is pinned by digest (a tag moves; a digest names exactly one image).
func TestDockerfilePinsBaseImagesByDigest(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	froms := 0
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		froms++
		fields = fields[1:]
		for len(fields) > 1 && strings.HasPrefix(fields[0], "--") { // --platform=...
			fields = fields[1:]
		}
		image := fields[0]
		if len(fields) >= 3 && strings.EqualFold(fields[1], "AS") {
			stages[fields[2]] = true
		}
		if !stages[image] && !digestPinned.MatchString(image) {
			t.Errorf("FROM %s is not pinned by digest (want IMAGE:TAG@sha256:<64 hex>)", image)
		}
	}
	if froms == 0 {
		t.Fatal("the Dockerfile has no FROM")
	}
}

// TestDockerignoreKeepsTheContextToTheSources: by Docker's own pattern
// rules, the build context holds the daemon's module and deploy/build.sh,
// which the build needs, and no .git, key file, local output or file of
// another module.
func TestDockerignoreKeepsTheContextToTheSources(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(path string) bool {
		ex, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	for _, secret := range []string{".git", ".git/config", "key.json", "sa-key.json", "deploy/credentials.json",
		"cmd/opcancel/service-account.json", "tls.key", "lro/client.pem", ".env", "opcancel", "services.yaml"} {
		if !excluded(secret) {
			t.Errorf("%s would be sent to the builder", secret)
		}
	}
	needed, others := goSources(t)
	needed = append(needed, "go.mod", "go.sum", "deploy/build.sh")
	for _, n := range needed {
		if excluded(n) {
			t.Errorf("%s, which the build needs, is left out of the context", n)
		}
	}
	for _, o := range others {
		if !excluded(o) {
			t.Errorf("%s, of another module than the daemon's, would be sent to the builder", o)
		}
	}
}

// goSources returns the repository's Go files (paths from its root): those
// of the daemon's module, and the Go files, go.mod and go.sum of any module
// below it (this one, deploy/go.mod), which the image never builds: they
// must stay out of the context, or they would join the root module inside
// the builder.
func goSources(t *testing.T) (daemon, others []string) {
	t.Helper()
	var nested []string // the directories below the root that hold a go.mod
	inNested := func(rel string) bool {
		return slices.ContainsFunc(nested, func(dir string) bool { return strings.HasPrefix(rel, dir+"/") })
	}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repoRoot, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				nested = append(nested, rel)
			}
			return nil
		}
		switch {
		case inNested(rel) && (strings.HasSuffix(rel, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum"):
			others = append(others, rel)
		case strings.HasSuffix(rel, ".go"):
			daemon = append(daemon, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(others) == 0 {
		t.Fatal("no module below the root: the kit's tests are in deploy/go.mod's")
	}
	return daemon, others
}
