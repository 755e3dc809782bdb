package deploy

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"opcancel/lro"
)

// Addresses outside the cluster the worker must reach on 443: a public
// address of the Google APIs and private.googleapis.com (Private Google
// Access).
var googleAPIs = []string{"142.250.4.95", "199.36.153.8"}

// TestNetworkPolicy: the worker accepts connections on its admin port only,
// only from the scraper's namespace; it may resolve names at the cluster's
// resolvers, reach HTTPS outside the cluster and the GKE metadata server
// (both of its addresses: Workload Identity tokens) and, in dev, the
// emulator and the fake API; it reaches no pod, Service or node of the
// cluster on 443, no DNS server outside the cluster, and nothing on OTLP's
// ports unless the tracing component opens them.
func TestNetworkPolicy(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		_, c := r.worker(t)
		np := workerPolicy(t, r)
		if np == nil {
			continue
		}
		types := fmt.Sprint(np.Spec.PolicyTypes)
		if !strings.Contains(types, "Ingress") || !strings.Contains(types, "Egress") {
			t.Errorf("%s: policy types %s, want Ingress and Egress", dir, types)
		}
		checkIngress(t, dir, np, c)
		wanted := append(clusterDNS(t, dir), egressWant{"TCP", 80, dest{ip: "169.254.169.254"}}, egressWant{"TCP", 988, dest{ip: "169.254.169.252"}})
		for _, ip := range googleAPIs {
			wanted = append(wanted, egressWant{"TCP", 443, dest{ip: ip}})
		}
		if dir == "overlays/dev" {
			wanted = append(wanted, devEgress(t, r, c)...)
		}
		for _, w := range wanted {
			if !egressAllows(np, w) {
				t.Errorf("%s: the NetworkPolicy does not let the worker reach %s", dir, w)
			}
		}
		for _, w := range clusterOn443(t, dir) {
			if egressAllows(np, w) {
				t.Errorf("%s: the NetworkPolicy lets the worker reach %s, inside the cluster", dir, w)
			}
		}
		for _, w := range outsideDNS() {
			if egressAllows(np, w) {
				t.Errorf("%s: the NetworkPolicy lets the worker reach %s, which is not the cluster's resolver", dir, w)
			}
		}
		for _, port := range []int{4317, 4318} {
			for _, w := range []egressWant{{"TCP", port, dest{ip: googleAPIs[0]}}, {"TCP", port, collector("observability")}} {
				if egressAllows(np, w) {
					t.Errorf("%s: OTLP is open without the tracing component: %s", dir, w)
				}
			}
		}
	}
}

// scraperNamespaces are the namespaces each overlay's metrics scraper runs
// in: kube-prometheus-stack's usual one, and on GKE Managed Prometheus's
// collectors, in gmp-system on Standard clusters and gke-gmp-system on
// Autopilot (which always enforces NetworkPolicy).
var scraperNamespaces = map[string][]string{
	"base": {"monitoring"}, "overlays/dev": {"monitoring"}, "overlays/prod": {"monitoring"},
	"overlays/gke": {"gmp-system", "gke-gmp-system"},
}

// TestNetworkPolicyAdmitsTheScraper: a collector pod in each of the
// overlay's scraper namespaces reaches the admin port; a pod of any other
// namespace does not.
func TestNetworkPolicyAdmitsTheScraper(t *testing.T) {
	t.Parallel()
	for _, dir := range overlays {
		r := render(t, dir)
		_, c := r.worker(t)
		np := workerPolicy(t, r)
		if np == nil {
			continue
		}
		port := int(adminPort(c))
		for _, ns := range scraperNamespaces[dir] {
			if !ingressAllows(np, c, ns, port) {
				t.Errorf("%s: the scraper in namespace %s cannot reach the admin port %d", dir, ns, port)
			}
		}
		for _, ns := range []string{"default", "kube-system", "gmp-public", "other"} {
			if ingressAllows(np, c, ns, port) {
				t.Errorf("%s: a pod of namespace %s reaches the admin port", dir, ns)
			}
		}
	}
}

// workerPolicy is the NetworkPolicy that selects the worker's pods.
func workerPolicy(t *testing.T, r *rendered) *networkingv1.NetworkPolicy {
	t.Helper()
	w, _ := r.worker(t)
	for _, p := range r.netpols {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(labels.Set(w.Spec.Template.Labels)) {
			return p
		}
	}
	t.Errorf("%s: no NetworkPolicy selects the worker", r.name)
	return nil
}

// clusterRanges are the pod, Service and node ranges of the clusters an
// overlay is for, in that order, and the link-local range: kind's defaults
// for the base and dev, and for the production overlays what
// deploy/components/production/cluster-ranges.env sets.
func clusterRanges(t *testing.T, dir string) []netip.Prefix {
	t.Helper()
	ranges := []string{"10.244.0.0/16", "10.96.0.0/12", "172.18.0.0/16"}
	if dir == "overlays/prod" || dir == "overlays/gke" {
		env, err := os.ReadFile(filepath.Join("components", "production", "cluster-ranges.env"))
		if err != nil {
			t.Fatal(err)
		}
		ranges = nil
		for _, line := range strings.Split(string(env), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
				ranges = append(ranges, v)
			}
		}
		if len(ranges) != 3 {
			t.Fatalf("cluster-ranges.env sets %v, want POD_CIDR, SERVICE_CIDR and NODE_CIDR", ranges)
		}
	}
	var out []netip.Prefix
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			t.Fatalf("%s: cluster range %q: %v", dir, r, err)
		}
		out = append(out, p.Masked())
	}
	return append(out, netip.MustParsePrefix("169.254.0.0/16"))
}

// clusterOn443 are destinations inside the cluster on 443: the first and
// last address of each of its ranges (a pod of another namespace, a
// Service, the metadata server's link-local addresses), and, by labels,
// any pod.
func clusterOn443(t *testing.T, dir string) []egressWant {
	t.Helper()
	anyPod := func(ip string) dest {
		return dest{ip: ip, ns: map[string]string{"kubernetes.io/metadata.name": "other"}, pod: map[string]string{"app": "other"}}
	}
	var out []egressWant
	for _, p := range clusterRanges(t, dir) {
		a := p.Addr().As4()
		n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | (1<<(32-p.Bits()) - 1)
		last := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		for _, a := range []netip.Addr{p.Addr().Next(), last} {
			out = append(out, egressWant{"TCP", 443, anyPod(a.String())})
		}
	}
	return out
}

// clusterDNS are the cluster's resolvers on port 53, UDP and TCP:
// kube-dns's pods, the kube-dns Service's address (the tenth of the
// Service range, as clusters give it), the GKE metadata server (Cloud DNS
// for GKE) and NodeLocal DNSCache's address.
func clusterDNS(t *testing.T, dir string) []egressWant {
	t.Helper()
	kubeDNS := clusterRanges(t, dir)[1].Addr()
	for range 10 {
		kubeDNS = kubeDNS.Next()
	}
	var out []egressWant
	for _, to := range []dest{
		{ns: map[string]string{"kubernetes.io/metadata.name": "kube-system"}, pod: map[string]string{"k8s-app": "kube-dns"}},
		{ip: kubeDNS.String()}, {ip: "169.254.169.254"}, {ip: "169.254.20.10"},
	} {
		out = append(out, egressWant{"UDP", 53, to}, egressWant{"TCP", 53, to})
	}
	return out
}

// outsideDNS are DNS servers the worker has no business with: one on the
// internet, a Google API address, another pod of kube-system.
func outsideDNS() []egressWant {
	var out []egressWant
	for _, to := range []dest{
		{ip: "8.8.8.8"}, {ip: googleAPIs[0]},
		{ns: map[string]string{"kubernetes.io/metadata.name": "kube-system"}, pod: map[string]string{"k8s-app": "other"}},
	} {
		out = append(out, egressWant{"UDP", 53, to}, egressWant{"TCP", 53, to})
	}
	return out
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

// devEgress: the dev worker reaches the emulator and every endpoint of its
// services file, pods of its own namespace, over plain ports.
func devEgress(t *testing.T, r *rendered, c *corev1.Container) []egressWant {
	t.Helper()
	env := r.workerEnv(t, c)
	byService := map[string]map[string]string{} // Service name → its pods' labels
	for _, s := range r.services {
		byService[s.Name] = s.Spec.Selector
	}
	pod := func(hostport string) egressWant {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Fatalf("%s: %v", hostport, err)
		}
		n, _ := strconv.Atoi(port)
		l, ok := byService[host]
		if !ok {
			t.Fatalf("%s: no Service %s in the dev overlay", hostport, host)
		}
		return egressWant{"TCP", n, dest{pod: l}}
	}
	out := []egressWant{pod(env["PUBSUB_EMULATOR_HOST"])}
	table, err := lro.ParseTable("services.yaml", []byte(r.configMaps["opcancel-services"].Data["services.yaml"]), lro.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range table.Services() {
		out = append(out, pod(s.Endpoint.Host))
	}
	return out
}
