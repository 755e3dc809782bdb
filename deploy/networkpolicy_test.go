package deploy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"opcancel/lro"
)

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
