// Package dataplane gives the simulated clusters of internal/testenv/engines a real
// data plane, so that a test can send real requests across a migration:
//
//   - per cluster, a Linux network namespace with its own pod range (the kwok node's
//     podCIDR) and service range (its kube-apiserver's), the cluster's ingress address
//     from gitmig.yaml on a bridge that joins the clusters, and no route out;
//   - per cluster, in its namespace: kube-proxy (iptables mode) so that ClusterIPs
//     answer, CoreDNS serving cluster.local from the cluster's API server and the
//     ingress names of gitmig.yaml, and Traefik with the Kubernetes CRD provider on
//     the entry points of gitmig.yaml, bound to the ingress address;
//   - for every Ready pod, its address on an interface of the namespace (EndpointSlices
//     refuse loopback addresses) and a server on each port of each Service selecting
//     it, in the protocol the port's appProtocol declares, answering with the
//     cluster's name;
//   - probes: clients resolving a Service by its in-cluster names through their
//     cluster's CoreDNS and calling a port continuously, recording every request.
//
// The API servers listen on the test's loopback; each namespace gets the same
// address relayed, so every program in it uses the cluster's kubeconfig unchanged.
// It needs root, iproute2 and iptables, and the programs that hack/kube/build.sh and
// hack/dataplane/build.sh build into the cache outside the clone. When one is
// missing the test is skipped with a message that says how to get it, and fails when
// CI=true.
//
// It is test support: import it from _test.go files only.
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/testenv/engines"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// Versions of the programs hack/dataplane/build.sh builds; they name the cache
// folders. kube-proxy is the release of the other Kubernetes binaries.
const (
	CoreDNSVersion = "v1.15.0"
	TraefikVersion = "v3.4.0"
)

// Plane is the data plane of a Fleet's clusters.
type Plane struct {
	// Probes are the clients of the Service given to Start, one per cluster where a
	// client runs and port.
	Probes []*Probe

	fleet   *engines.Fleet
	net     *network
	servers map[string]*podServers
	ca      *testCA
}

// Node is node as a cluster of cfg must have it for Start: kwok hands out its pod
// addresses from the range the cluster's namespace routes.
func Node(cfg *config.Config, cluster config.Cluster, node engines.Node) engines.Node {
	i := slices.IndexFunc(cfg.Clusters, func(c config.Cluster) bool { return c.Name == cluster.Name })
	node.PodCIDR, _, _ = podCIDRs(i)
	return node
}

// Available skips the test (fails it in CI) unless everything Start needs is here,
// so that a test can check before it starts the clusters.
func Available(t testing.TB) {
	t.Helper()
	available(t)
}

func available(t testing.TB) binaries {
	t.Helper()
	if os.Geteuid() != 0 {
		kubeenv.Unavailable(t, "the data plane makes network namespaces: run as root")
	}
	engines.Command(t, "iptables", "install Debian's iptables (`apt-get install iptables`)")
	return binaries{
		ip:        engines.Command(t, "ip", "install Debian's iproute2"),
		kubeProxy: kubeenv.Binary(t, "kube-proxy"),
		coreDNS:   engines.CachedTool(t, "hack/dataplane/build.sh", "coredns", CoreDNSVersion, "coredns"),
		traefik:   engines.CachedTool(t, "hack/dataplane/build.sh", "traefik", TraefikVersion, "traefik"),
	}
}

// Start builds the data plane of every cluster of the fleet, whose nodes came from
// Node, and returns once every Ready pod has its servers; Plane.Probes are then the
// clients of service. Everything is removed when the test ends.
func Start(t *testing.T, f *engines.Fleet, service string) *Plane {
	t.Helper()
	bins := available(t)
	svc, ok := f.Config.Service(service)
	if !ok {
		t.Fatalf("no service %q in gitmig.yaml", service)
	}
	n, err := newNetwork(t, f.Config, f.Env)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := newTestCA()
	if err != nil {
		t.Fatal(err)
	}
	p := &Plane{fleet: f, net: n, servers: map[string]*podServers{}, ca: ca}
	errs := make([]error, len(f.Config.Clusters))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, cl := range f.Config.Clusters {
		wg.Go(func() {
			servers, err := p.startCluster(t, bins, cl)
			mu.Lock()
			defer mu.Unlock()
			p.servers[cl.Name], errs[i] = servers, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if err := p.waitServing(); err != nil {
		t.Fatal(err)
	}
	if p.Probes, err = p.probes(svc); err != nil {
		t.Fatal(err)
	}
	if len(p.Probes) == 0 {
		t.Fatalf("no cluster runs a client of %s (clients %v) to probe it from", service, svc.Clients)
	}
	return p
}

func (p *Plane) startCluster(t testing.TB, bins binaries, cl config.Cluster) (*podServers, error) {
	c := p.fleet.Env.Cluster(cl.Name)
	cn := p.net.clusters[cl.Name]
	dir := filepath.Join(c.Dir, "dataplane")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := forwardAPIServer(t, cn.ns, c); err != nil {
		return nil, err
	}
	if err := startKubeProxy(t, bins, c, cn, engines.NodeName(cl.Name), dir); err != nil {
		return nil, err
	}
	if err := startCoreDNS(t, bins, p.fleet.Config, c, cn, dir); err != nil {
		return nil, err
	}
	if err := startTraefik(t, bins, cl, c, cn, dir); err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	return startPodServers(t, cl.Name, cn, client, p.ca), nil
}

// waitServing waits until every Ready pod of the workload clusters has its servers.
func (p *Plane) waitServing() error {
	ctx := context.Background()
	for _, cl := range p.fleet.Config.Clusters {
		client, err := kubernetes.NewForConfig(p.fleet.Env.Cluster(cl.Name).Config)
		if err != nil {
			return err
		}
		err = kubeenv.Poll(ctx, podSyncInterval, readyTimeout, "servers for "+cl.Name+"'s Ready pods", func() error {
			pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			want := 0
			for i := range pods.Items {
				if ready(&pods.Items[i]) && pods.Items[i].Status.PodIP != "" {
					want++
				}
			}
			if got := p.servers[cl.Name].count(); got != want {
				return fmt.Errorf("%d of %d Ready pods served", got, want)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// probes are the clients of svc: one per port of its Service in the cluster that runs
// it, in every cluster that runs a Deployment of a client service.
func (p *Plane) probes(svc config.Service) ([]*Probe, error) {
	ctx := context.Background()
	type port struct {
		name     string
		number   int32
		protocol Protocol
	}
	type client struct{ name, cluster, namespace string }
	var ports []port
	var clients []client
	for _, cl := range p.fleet.Config.Clusters {
		kube, err := kubernetes.NewForConfig(p.fleet.Env.Cluster(cl.Name).Config)
		if err != nil {
			return nil, err
		}
		if s, err := kube.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{}); err == nil && ports == nil {
			for _, sp := range s.Spec.Ports {
				proto, err := ProtocolOf(appProtocol(sp))
				if err != nil {
					return nil, fmt.Errorf("Service %s/%s in %s, port %s: %w", svc.Namespace, svc.Name, cl.Name, sp.Name, err)
				}
				ports = append(ports, port{sp.Name, sp.Port, proto})
			}
		}
		for _, name := range svc.Clients {
			c, ok := p.fleet.Config.Service(name)
			if !ok {
				continue
			}
			list, err := kube.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			if len(list.Items) > 0 {
				clients = append(clients, client{name, cl.Name, c.Namespace})
			}
		}
	}
	var out []*Probe
	for _, c := range clients {
		for _, pt := range ports {
			out = append(out, &Probe{
				Client: c.name, Cluster: c.cluster, Service: svc.Name, Namespace: svc.Namespace,
				Port: pt.name, Number: pt.number, Protocol: pt.protocol,
				clientNamespace: c.namespace, ns: p.net.clusters[c.cluster].ns, roots: p.ca.pool,
			})
		}
	}
	return out, nil
}

// Run starts every probe, for at most limit, and returns a function that stops them
// and waits until their last requests have ended.
func (p *Plane) Run(limit time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, pr := range p.Probes {
		wg.Go(func() { pr.run(ctx, limit) })
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
