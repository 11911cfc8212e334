package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
	"github.com/gitmig/gitmig/internal/traffic"
)

// readyTimeout bounds how long one program may take to come up on two shared cores.
const readyTimeout = 3 * time.Minute

// DNSTTL is the TTL, in seconds, of every answer of the clusters' CoreDNS: Service
// names (the kubernetes plugin's default) and ingress names alike. No CoreDNS cache is
// configured, so an answer changes as soon as CoreDNS's watch sees the change.
const DNSTTL = 5

// binaries are the data plane's programs.
type binaries struct{ ip, kubeProxy, coreDNS, traefik string }

// httpIn returns an HTTP client whose connections start inside the namespace.
func httpIn(ns *netns) *http.Client {
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: ns.dial, DisableKeepAlives: true},
	}
}

// startKubeProxy runs kube-proxy in the cluster's namespace, programming its iptables
// for the cluster's Services, and waits for its health endpoint.
func startKubeProxy(t testing.TB, bins binaries, c *kubeenv.Cluster, cn *clusterNet, node, dir string) error {
	healthz := "127.0.0.1:10256"
	p, err := kubeenv.StartProcess(t, "kube-proxy "+c.Name, filepath.Join(dir, "kube-proxy.log"), nil, bins.ip,
		cn.ns.command(bins.kubeProxy,
			"--kubeconfig="+c.Kubeconfig,
			"--hostname-override="+node,
			"--proxy-mode=iptables",
			"--cluster-cidr="+cn.clusterCIDR,
			"--healthz-bind-address="+healthz,
			"--metrics-bind-address=127.0.0.1:10249",
			// The namespace's conntrack table is the host's: leave its size alone.
			"--conntrack-max-per-core=0",
			"--v=1",
		)...)
	if err != nil {
		return err
	}
	client := httpIn(cn.ns)
	return p.WaitFor(readyTimeout, "healthy answer on "+healthz, func() error {
		return kubeenv.HTTPOK(client, "http://"+healthz+"/healthz")
	})
}

// corefile serves cluster.local from the cluster's API server and, as a private zone
// would, each cluster's ingress dnsName with its ingress address. The kubernetes
// plugin answers an ExternalName Service with a CNAME and resolves its target through
// the same server, so a client gets the CNAME and the ingress address in one answer.
func corefile(cfg *config.Config, kubeconfig, context string) string {
	var hosts strings.Builder
	for _, cl := range cfg.Clusters {
		fmt.Fprintf(&hosts, "        %s %s\n", cl.Ingress.Address, cl.Ingress.DNSName)
	}
	return fmt.Sprintf(`.:53 {
    bind %s
    errors
    ready 127.0.0.1:8181
    hosts {
%s        ttl %d
        no_reverse
        fallthrough
    }
    kubernetes cluster.local {
        kubeconfig %s %s
        ttl %d
    }
}
`, dnsAddress, hosts.String(), DNSTTL, kubeconfig, context, DNSTTL)
}

// startCoreDNS runs CoreDNS in the cluster's namespace on dnsAddress, and waits until
// it has synced with the API server.
func startCoreDNS(t testing.TB, bins binaries, cfg *config.Config, c *kubeenv.Cluster, cn *clusterNet, dir string) error {
	path := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(path, []byte(corefile(cfg, c.Kubeconfig, c.Name)), 0o600); err != nil {
		return err
	}
	p, err := kubeenv.StartProcess(t, "coredns "+c.Name, filepath.Join(dir, "coredns.log"), nil, bins.ip,
		cn.ns.command(bins.coreDNS, "-conf", path)...)
	if err != nil {
		return err
	}
	client := httpIn(cn.ns)
	return p.WaitFor(readyTimeout, "ready answer on :8181", func() error {
		return kubeenv.HTTPOK(client, "http://127.0.0.1:8181/ready")
	})
}

// startTraefik runs Traefik in the cluster's namespace with the Kubernetes CRD
// provider on the cluster's API server and one entry point per ingress.entryPoints of
// gitmig.yaml, bound to the ingress address, and waits for its ping endpoint and
// every entry point to listen.
func startTraefik(t testing.TB, bins binaries, cl config.Cluster, c *kubeenv.Cluster, cn *clusterNet, dir string) error {
	ca := filepath.Join(dir, "apiserver-ca.crt")
	if err := os.WriteFile(ca, c.Config.CAData, 0o600); err != nil {
		return err
	}
	args := []string{
		"--providers.kubernetescrd=true",
		"--providers.kubernetescrd.endpoint=" + c.URL,
		"--providers.kubernetescrd.token=" + c.Config.BearerToken,
		"--providers.kubernetescrd.certAuthFilePath=" + ca,
		// gitmig's stubs and flipped Services are ExternalName Services, and a
		// route may lead to a Service of another namespace.
		"--providers.kubernetescrd.allowExternalNameServices=true",
		"--providers.kubernetescrd.allowCrossNamespace=true",
		"--ping=true",
		"--ping.entryPoint=ping",
		"--entryPoints.ping.address=127.0.0.1:8082",
		"--log.level=INFO",
	}
	names := make([]string, 0, len(cl.Ingress.EntryPoints))
	for name := range cl.Ingress.EntryPoints {
		names = append(names, name)
	}
	slices.Sort(names)
	var addrs []string
	for _, name := range names {
		ep := cl.Ingress.EntryPoints[name]
		addr := net.JoinHostPort(cn.ingress, fmt.Sprint(ep.Port))
		if ep.Protocol == string(traffic.UDP) {
			// A UDP entry point's address takes a /udp suffix, and no TCP dial can
			// tell that it listens.
			args = append(args, fmt.Sprintf("--entryPoints.%s.address=%s/udp", name, addr))
			continue
		}
		addrs = append(addrs, addr)
		args = append(args, fmt.Sprintf("--entryPoints.%s.address=%s", name, addr))
	}
	p, err := kubeenv.StartProcess(t, "traefik "+c.Name, filepath.Join(dir, "traefik.log"), nil, bins.ip,
		cn.ns.command(bins.traefik, args...)...)
	if err != nil {
		return err
	}
	client := httpIn(cn.ns)
	return p.WaitFor(readyTimeout, "ping and entry points", func() error {
		if err := kubeenv.HTTPOK(client, "http://127.0.0.1:8082/ping"); err != nil {
			return err
		}
		for _, addr := range addrs {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn, err := cn.ns.dial(ctx, "tcp", addr)
			cancel()
			if err != nil {
				return err
			}
			conn.Close()
		}
		return nil
	})
}
