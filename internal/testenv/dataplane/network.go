package dataplane

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// podsLink is the interface of a cluster's namespace that holds its pods' addresses
// (one end of a veth pair whose other end, podsPeer, stays in the namespace too: this
// kernel has no dummy interfaces); ingressLink is its leg on the bridge that joins the
// clusters.
const (
	podsLink    = "pods"
	podsPeer    = "pods-peer"
	ingressLink = "ingress"
)

// dnsAddress is where each cluster's CoreDNS listens, on the loopback of the cluster's
// namespace.
const dnsAddress = "127.0.0.53"

// network is one namespace per cluster and a bridge, in a namespace of its own,
// joining the clusters' ingress addresses.
type network struct {
	fabric   *netns
	clusters map[string]*clusterNet
}

// clusterNet is one cluster's namespace and its address plan.
type clusterNet struct {
	ns *netns
	// PodCIDR is where kwok gives pods their addresses (the node's podCIDR), inside
	// ClusterCIDR, the range kube-proxy takes for the cluster's pods.
	podCIDR, clusterCIDR string
	// serviceCIDR is the API server's service range, routed to the pods link so that
	// connections to a ClusterIP reach kube-proxy's rules.
	serviceCIDR string
	// ingress is the cluster's ingress address from gitmig.yaml, on the bridge.
	ingress string
}

// podCIDRs returns the pod ranges of the i-th cluster: kwok hands out addresses from
// the lower half of 10.244.i.0/24 and the upper end holds the node's own address.
func podCIDRs(i int) (pods, cluster, node string) {
	return fmt.Sprintf("10.244.%d.0/25", i), fmt.Sprintf("10.244.%d.0/24", i), fmt.Sprintf("10.244.%d.254", i)
}

// newNetwork makes the namespaces and the bridge for the clusters of cfg, each with
// the service range of its kubeenv cluster, and removes them when the test ends.
func newNetwork(t testing.TB, cfg *config.Config, env *kubeenv.Env) (*network, error) {
	if err := removeStale(); err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("%s%d-", namePrefix, os.Getpid())
	fabric, err := newNetns(prefix + "fabric")
	if err != nil {
		return nil, err
	}
	n := &network{fabric: fabric, clusters: map[string]*clusterNet{}}
	t.Cleanup(func() {
		for _, c := range n.clusters {
			if err := c.ns.delete(); err != nil {
				t.Error(err)
			}
		}
		if err := fabric.delete(); err != nil {
			t.Error(err)
		}
	})
	if err := fabric.ip("link", "add", "br0", "type", "bridge"); err != nil {
		return nil, err
	}
	if err := fabric.ip("link", "set", "br0", "up"); err != nil {
		return nil, err
	}
	for i, cl := range cfg.Clusters {
		if net.ParseIP(cl.Ingress.Address).To4() == nil {
			return nil, fmt.Errorf("cluster %s: ingress.address %q is not an IPv4 address", cl.Name, cl.Ingress.Address)
		}
		ns, err := newNetns(prefix + cl.Name)
		if err != nil {
			return nil, err
		}
		pods, clusterCIDR, node := podCIDRs(i)
		c := &clusterNet{ns: ns, podCIDR: pods, clusterCIDR: clusterCIDR, serviceCIDR: env.Cluster(cl.Name).ServiceCIDR, ingress: cl.Ingress.Address}
		n.clusters[cl.Name] = c
		leg := fmt.Sprintf("c%d", i) // interface names are short; cluster names need not be
		steps := [][]string{
			{"link", "set", "lo", "up"},
			{"link", "add", podsLink, "type", "veth", "peer", "name", podsPeer},
			{"link", "set", podsPeer, "up"},
			{"link", "set", podsLink, "up"},
			{"addr", "add", node + "/32", "dev", podsLink},
			{"route", "add", c.serviceCIDR, "dev", podsLink, "src", node},
		}
		for _, s := range steps {
			if err := ns.ip(s...); err != nil {
				return nil, err
			}
		}
		if err := fabric.ip("link", "add", leg, "type", "veth", "peer", "name", ingressLink, "netns", ns.name); err != nil {
			return nil, err
		}
		for _, s := range [][]string{{"link", "set", leg, "master", "br0"}, {"link", "set", leg, "up"}} {
			if err := fabric.ip(s...); err != nil {
				return nil, err
			}
		}
		for _, s := range [][]string{{"addr", "add", c.ingress + "/32", "dev", ingressLink}, {"link", "set", ingressLink, "up"}} {
			if err := ns.ip(s...); err != nil {
				return nil, err
			}
		}
	}
	// Each ingress address reaches every other one over the bridge, and nothing else
	// leaves a namespace: there is no default route.
	for _, c := range n.clusters {
		for _, other := range n.clusters {
			if other != c {
				if err := c.ns.ip("route", "add", other.ingress+"/32", "dev", ingressLink, "src", c.ingress); err != nil {
					return nil, err
				}
			}
		}
	}
	return n, nil
}

// forwardAPIServer makes the cluster's API server, which listens on the test's
// loopback, answer on the same address and port inside the cluster's namespace, so
// that the kubeconfig and the serving certificate for 127.0.0.1 work there unchanged:
// the listening socket is made in the namespace and each connection is relayed from
// the test's. It stops when the test ends.
func forwardAPIServer(t testing.TB, ns *netns, c *kubeenv.Cluster) error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return err
	}
	l, err := ns.listen("tcp", u.Host)
	if err != nil {
		return fmt.Errorf("cluster %s: forwarding the API server: %w", c.Name, err)
	}
	// Closing the listener is enough: the programs that hold connections through it
	// run in the namespace and stop before it, which ends their relays.
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := net.Dial("tcp", u.Host)
				if err != nil {
					return
				}
				defer out.Close()
				relay(in, out)
			}()
		}
	}()
	return nil
}

// relay copies both ways until either side ends.
func relay(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(a, b); done <- struct{}{} }()
	go func() { _, _ = io.Copy(b, a); done <- struct{}{} }()
	<-done
}
