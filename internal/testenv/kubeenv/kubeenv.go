// Package kubeenv runs real Kubernetes API servers for gitmig's end-to-end tests: one
// etcd (Debian's etcd-server) and, per simulated cluster, one kube-apiserver on
// loopback with its own etcd prefix, the upstream CRDs of Traefik, Argo CD, Flux and
// external-dns installed. Tests get a kubeconfig file, a *rest.Config and a dynamic
// client per cluster, and an Applier that server-side applies and prunes like a GitOps
// engine.
//
// The API server is built from k8s.io/kubernetes by hack/kube/build.sh into a cache
// folder outside the clone. When it or etcd is missing, Start skips the test with a
// message saying how to get it, and fails it when CI=true.
//
// It is test support: import it from _test.go files only.
package kubeenv

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubernetesVersion is the k8s.io/kubernetes release that hack/kube builds; it names
// the cache folder the binaries are looked up in.
const KubernetesVersion = "v1.37.2"

// startTimeout bounds how long one server may take to become ready. Two shared cores
// and several API servers starting at once make this far longer than on a laptop.
const startTimeout = 3 * time.Minute

// probeTimeout bounds one readiness probe, so that a server that hangs is retried.
const probeTimeout = 10 * time.Second

// Env is one etcd and the API servers of the simulated clusters.
type Env struct {
	// EtcdURL is the etcd every API server stores its objects in, each under the
	// prefix /<cluster>.
	EtcdURL string
	// Clusters are in the order Start was given their names.
	Clusters []*Cluster
}

// Cluster returns the simulated cluster of that name, or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Cluster is one simulated cluster: a kube-apiserver and its admin's clients.
type Cluster struct {
	Name string
	// URL is the API server's address, https://127.0.0.1:<port>.
	URL string
	// Kubeconfig is the path of a kubeconfig file for the cluster's admin, with a
	// context named after the cluster and the serving certificate's CA as
	// certificate-authority-data (what Flux and Argo CD need to trust it).
	Kubeconfig string
	// Config is the admin's client configuration (a static token in system:masters).
	Config *rest.Config
	// Dynamic is a dynamic client for Config.
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources through the API server's discovery, CRDs
	// included; Reset it after adding a CRD.
	Mapper *restmapper.DeferredDiscoveryRESTMapper
	// Dir holds the cluster's certificates, keys, token file and server log.
	Dir string
	// ServiceCIDR is the cluster's service range, 10.<96+i>.0.0/16 for the i-th
	// cluster given to Start, so that no two clusters share ClusterIPs.
	ServiceCIDR string
	// ServiceAccountKey is the PEM file of the key that signs service account tokens;
	// a kube-controller-manager needs it as --service-account-private-key-file.
	ServiceAccountKey string

	discovery discovery.CachedDiscoveryInterface
}

// Applier returns an Applier for the cluster with that field manager.
func (c *Cluster) Applier(fieldManager string) *Applier {
	return &Applier{Client: c.Dynamic, Mapper: c.Mapper, FieldManager: fieldManager}
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Start starts one etcd and one API server per cluster name, installs the upstream
// CRDs in each and waits until they are established. Everything stops when the test
// ends. It skips the test (fails it when CI=true) when etcd or kube-apiserver is
// missing.
func Start(t testing.TB, clusters ...string) *Env {
	t.Helper()
	if len(clusters) == 0 {
		t.Fatal("kubeenv.Start: no cluster names")
	}
	seen := map[string]bool{}
	for _, name := range clusters {
		if !clusterName.MatchString(name) || seen[name] {
			t.Fatalf("kubeenv.Start: cluster name %q is not a DNS label, or repeated", name)
		}
		seen[name] = true
	}
	etcd := etcdBinary(t)
	apiserver := Binary(t, "kube-apiserver")
	crds, err := upstreamCRDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	etcdURL, err := startEtcd(t, etcd, filepath.Join(dir, "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{EtcdURL: etcdURL, Clusters: make([]*Cluster, len(clusters))}
	// The API servers start in parallel, so that the slowest, not the sum, sets the
	// wait; they share nothing but etcd.
	errs := make([]error, len(clusters))
	var wg sync.WaitGroup
	for i, name := range clusters {
		wg.Go(func() {
			c, err := startAPIServer(t, apiserver, etcdURL, name, fmt.Sprintf("10.%d.0.0/16", 96+i), filepath.Join(dir, name))
			if err == nil {
				err = InstallCRDs(t.Context(), c, crds)
			}
			env.Clusters[i], errs[i] = c, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return env
}

// Binary returns the path of a Kubernetes binary that hack/kube/build.sh builds: the
// environment variable GITMIG_<NAME> (GITMIG_KUBE_APISERVER for kube-apiserver) when
// set, else <cache>/kubernetes-<KubernetesVersion>/<name> with <cache> from
// GITMIG_E2E_CACHE or ~/.cache/gitmig-e2e. It skips the test (fails it when CI=true)
// when the binary is missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	env := "GITMIG_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	path := os.Getenv(env)
	if path == "" {
		cache := os.Getenv("GITMIG_E2E_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("finding %s: %v", name, err)
			}
			cache = filepath.Join(home, ".cache", "gitmig-e2e")
		}
		path = filepath.Join(cache, "kubernetes-"+KubernetesVersion, name)
	}
	if info, err := os.Stat(path); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		Unavailable(t, "%s %s not found at %s: build it with `bash hack/kube/build.sh %s` (minutes the first time, cached after), or set %s to its path",
			name, KubernetesVersion, path, name, env)
	}
	return path
}

func etcdBinary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("etcd")
	if err != nil {
		Unavailable(t, "etcd not found in PATH: install Debian's etcd-server (`apt-get install etcd-server`)")
	}
	return path
}

// Unavailable skips the test for want of a component, or fails it in CI, where
// .ci/run must have provided everything.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format+" (CI=true: failing instead of skipping)", args...)
	}
	t.Skipf(format, args...)
}

// startEtcd starts a single-member etcd on two free loopback ports and returns its
// client URL once it is healthy.
func startEtcd(t testing.TB, bin, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for attempt := 1; ; attempt++ {
		ports, err := FreePorts(2)
		if err != nil {
			return "", err
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		p, err := StartProcess(t, "etcd", filepath.Join(dir, fmt.Sprintf("etcd-%d.log", attempt)), nil, bin,
			"--name=kubeenv",
			"--data-dir="+filepath.Join(dir, "data"),
			"--listen-client-urls="+client, "--advertise-client-urls="+client,
			"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
			"--initial-cluster=kubeenv="+peer,
			"--logger=zap", "--log-level=warn",
		)
		if err != nil {
			return "", err
		}
		probe := &http.Client{Timeout: probeTimeout}
		err = p.WaitFor(startTimeout, "health", func() error { return HTTPOK(probe, client+"/health") })
		if err != nil && p.PortInUse() && attempt < 3 {
			continue
		}
		return client, err
	}
}

// startAPIServer starts one kube-apiserver for a cluster, writes its kubeconfig and
// returns once /readyz answers ok and the system namespaces exist.
func startAPIServer(t testing.TB, bin, etcdURL, name, serviceCIDR, dir string) (*Cluster, error) {
	c := &Cluster{Name: name, Dir: dir, ServiceCIDR: serviceCIDR, ServiceAccountKey: filepath.Join(dir, "service-account.key")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := writeServiceAccountKey(c.ServiceAccountKey); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	admin := hex.EncodeToString(token)
	if err := os.WriteFile(tokenFile, []byte(admin+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	certDir := filepath.Join(dir, "pki")
	for attempt := 1; ; attempt++ {
		ports, err := FreePorts(1)
		if err != nil {
			return nil, err
		}
		c.URL = fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		p, err := StartProcess(t, "kube-apiserver "+name, filepath.Join(dir, fmt.Sprintf("kube-apiserver-%d.log", attempt)), nil, bin,
			"--etcd-servers="+etcdURL,
			"--etcd-prefix=/"+name,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
			// The endpoints of Service kubernetes may not be a loopback address; nothing
			// in these clusters calls the API server through that Service.
			"--endpoint-reconciler-type=none",
			fmt.Sprintf("--secure-port=%d", ports[0]),
			// No certificate given: the server writes a self-signed CA and serving
			// certificate for 127.0.0.1 and localhost here.
			"--cert-dir="+certDir,
			"--token-auth-file="+tokenFile,
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file="+c.ServiceAccountKey,
			"--service-account-signing-key-file="+c.ServiceAccountKey,
			"--service-cluster-ip-range="+serviceCIDR,
			// Fewer background loops on two shared cores; no test relies on them.
			"--enable-priority-and-fairness=false",
			"--profiling=false",
		)
		if err != nil {
			return nil, err
		}
		err = c.connect(p, certDir, admin)
		if err != nil && p.PortInUse() && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", name, err)
		}
		return c, nil
	}
}

// connect waits for the self-signed certificate, builds the clients and the
// kubeconfig on it, and waits until the server is ready.
func (c *Cluster) connect(p *Process, certDir, token string) error {
	var caData []byte
	err := p.WaitFor(startTimeout, "serving certificate", func() error {
		data, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
		if err != nil {
			return err
		}
		// The file holds the serving certificate and the CA that signed it, which
		// clients are to trust; a file still being written lacks the CA.
		hasCA, remaining := false, data
		for {
			var block *pem.Block
			block, remaining = pem.Decode(remaining)
			if block == nil {
				break
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return err
			}
			hasCA = hasCA || cert.IsCA
		}
		if !hasCA {
			return errors.New("no CA certificate yet")
		}
		caData = data
		return nil
	})
	if err != nil {
		return err
	}
	c.Config = &rest.Config{
		Host:            c.URL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caData},
		// The default 5 requests per second would make the tests wait on the client.
		QPS:   100,
		Burst: 200,
	}
	if err := c.writeKubeconfig(caData, token); err != nil {
		return err
	}
	httpClient, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		return err
	}
	httpClient.Timeout = probeTimeout
	err = p.WaitFor(startTimeout, "ready answer on /readyz", func() error { return HTTPOK(httpClient, c.URL+"/readyz") })
	if err != nil {
		return err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return err
	}
	c.discovery = memory.NewMemCacheClient(disco)
	c.Mapper = restmapper.NewDeferredDiscoveryRESTMapper(c.discovery)
	// /readyz does not wait for the namespaces the server creates for itself.
	namespaces := c.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	return p.WaitFor(startTimeout, "system namespaces", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem} {
			if _, err := namespaces.Get(ctx, ns, metav1.GetOptions{}); err != nil {
				return err
			}
		}
		return nil
	})
}

// HTTPOK returns nil when a GET of url answers 200 OK.
func HTTPOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// writeKubeconfig writes the admin's kubeconfig with a context named after the cluster.
func (c *Cluster) writeKubeconfig(caData []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.URL, CertificateAuthorityData: caData}
	cfg.AuthInfos[c.Name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: c.Name}
	cfg.CurrentContext = c.Name
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, c.Kubeconfig)
}

// writeServiceAccountKey writes a new ECDSA key, which the API server accepts both to
// sign service account tokens and to verify them.
func writeServiceAccountKey(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
