package deploy

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// A small evaluator of Kubernetes NetworkPolicy for the policy tests: it
// answers whether a rendered policy lets a connection through, as a network
// plugin enforcing the policy would, for the parts of the API the kit's
// policies use (ports by number, or on ingress the port named admin; ipBlock
// peers with exceptions; namespace and pod selectors). It decides nothing
// about which connections the worker should make: the tests say that.

// dest is where a connection goes: an address, and for a pod its labels
// and its namespace's labels (nil outside the cluster). A pod of the
// policy's own namespace has ns nil and ip "".
type dest struct {
	ip      string
	ns, pod map[string]string
}

// egressWant is a connection the worker makes.
type egressWant struct {
	protocol string
	port     int
	to       dest
}

func (w egressWant) String() string {
	return fmt.Sprintf("%s port %d at %s (namespace %v, pod %v)", w.protocol, w.port, w.to.ip, w.to.ns, w.to.pod)
}

// egressAllows: some egress rule admits the protocol and port, and one of
// its peers the destination.
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
		if portOK && peersAllow(rule.To, w.to) {
			return true
		}
	}
	return false
}

// peersAllow: no peers means anywhere; an ipBlock admits an address in its
// CIDR and outside its exceptions; selectors admit a pod by its labels (a
// pod selector alone, the policy's own namespace; a namespace selector
// alone, every pod of the namespaces it selects).
func peersAllow(peers []networkingv1.NetworkPolicyPeer, d dest) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		switch {
		case p.IPBlock != nil:
			if d.ip != "" && inBlock(p.IPBlock, d.ip) {
				return true
			}
		case d.pod != nil:
			nsOK := p.NamespaceSelector == nil && d.ns == nil || p.NamespaceSelector != nil && d.ns != nil && selects(p.NamespaceSelector, d.ns)
			if nsOK && (p.PodSelector == nil || selects(p.PodSelector, d.pod)) {
				return true
			}
		}
	}
	return false
}

// inBlock: ip is in the block's CIDR and in none of its exceptions.
func inBlock(b *networkingv1.IPBlock, ip string) bool {
	contains := func(cidr string) bool {
		_, n, err := net.ParseCIDR(cidr)
		return err == nil && n.Contains(net.ParseIP(ip))
	}
	if !contains(b.CIDR) {
		return false
	}
	for _, e := range b.Except {
		if contains(e) {
			return false
		}
	}
	return true
}

// selects: the label selector matches labels l (a selector that does not
// parse matches nothing).
func selects(s *metav1.LabelSelector, l map[string]string) bool {
	sel, err := metav1.LabelSelectorAsSelector(s)
	return err == nil && sel.Matches(labels.Set(l))
}

// ingressAllows: some ingress rule admits a pod of namespace ns (labelled
// as Kubernetes labels every namespace) on the container's port.
func ingressAllows(np *networkingv1.NetworkPolicy, c *corev1.Container, ns string, port int) bool {
	from := dest{ns: map[string]string{"kubernetes.io/metadata.name": ns}, pod: map[string]string{"app": "collector"}}
	for _, rule := range np.Spec.Ingress {
		portOK := len(rule.Ports) == 0
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.IntValue() == port || (p.Port.String() == "admin" && int(adminPort(c)) == port) {
				portOK = true
			}
		}
		if portOK && peersAllow(rule.From, from) {
			return true
		}
	}
	return false
}

// adminPort is the number of the container's port named admin, the one an
// ingress rule may name; -1 if it has none.
func adminPort(c *corev1.Container) int32 {
	for _, p := range c.Ports {
		if p.Name == "admin" {
			return p.ContainerPort
		}
	}
	return -1
}
