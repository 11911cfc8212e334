// Package fleetgen generates fleet repositories of any size in the layout gitmig edits,
// with a metrics snapshot to plan from, so that the paths the CLI runs can be measured
// at thousands of services and hundreds of clusters.
//
// A generated fleet has Clusters clusters (60% edge, 30% fog, 10% cloud) and Services
// services, service i running in cluster i mod Clusters. RoutedEvery-th services are
// routed by a traefik.io IngressRoute in their cluster and called by the next service,
// whose cluster reaches them through an ExternalName stub, as after a migration. The
// first Overloaded edge clusters run hot for the whole sustain window. verify passes on
// every generated fleet.
package fleetgen

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Params shape a fleet.
type Params struct {
	Services int
	Clusters int
	// RoutedEvery routes one service in RoutedEvery (3: a third); 0 routes none.
	RoutedEvery int
	// Overloaded is how many edge clusters are overloaded.
	Overloaded int
	// MaxConcurrent is gitmig.yaml's policy.maxConcurrent; 1 when zero.
	MaxConcurrent int
	// Remote is gitops.remote; "fleet.git" when empty.
	Remote string
}

// Fleet is a generated repository and the metrics of its clusters.
type Fleet struct {
	// Files maps slash-separated paths to contents: gitmig.yaml, base/, clusters/.
	Files map[string][]byte
	// Metrics is a MetricsSnapshot document for `gitmig plan --metrics`.
	Metrics []byte
}

// Generate builds the fleet that p describes.
func Generate(p Params) (*Fleet, error) {
	if p.Services < 1 || p.Clusters < 3 {
		return nil, fmt.Errorf("fleetgen: want at least 1 service and 3 clusters, got %d and %d", p.Services, p.Clusters)
	}
	if p.Overloaded > p.Clusters*6/10 {
		return nil, fmt.Errorf("fleetgen: %d overloaded clusters, but only %d are edge", p.Overloaded, p.Clusters*6/10)
	}
	if p.MaxConcurrent == 0 {
		p.MaxConcurrent = 1
	}
	if p.Remote == "" {
		p.Remote = "fleet.git"
	}
	g := &generator{p: p, files: map[string][]byte{}, namespaces: make([]map[string]bool, p.Clusters)}
	for c := range g.namespaces {
		g.namespaces[c] = map[string]bool{}
	}
	g.services()
	g.overlays()
	g.config()
	return &Fleet{Files: g.files, Metrics: g.metrics()}, nil
}

type generator struct {
	p     Params
	files map[string][]byte
	// resources lists, per cluster, the entries of its overlay's kustomization.
	resources [][]string
	// namespaces holds, per cluster, the namespaces its build needs.
	namespaces []map[string]bool
}

// tier places the first 60% of the clusters on the edge, the next 30% in fog.
func (g *generator) tier(c int) string {
	switch {
	case c < g.p.Clusters*6/10:
		return "edge"
	case c < g.p.Clusters*9/10:
		return "fog"
	}
	return "cloud"
}

func (g *generator) cluster(c int) string { return fmt.Sprintf("%s-%03d", g.tier(c), c) }

func (g *generator) dnsName(c int) string { return g.cluster(c) + ".fleet.test" }

func (g *generator) home(s int) int { return s % g.p.Clusters }

func service(s int) string { return fmt.Sprintf("svc-%05d", s) }

func namespace(s int) string { return fmt.Sprintf("team-%02d", s%40) }

func (g *generator) routed(s int) bool {
	return g.p.RoutedEvery > 0 && s%g.p.RoutedEvery == 0 && s+1 < g.p.Services
}

// cpu is a service's usage in cores; the overloaded clusters' services run hotter.
func (g *generator) cpu(s int) float64 {
	cores := 0.1 + float64(s%7)*0.05
	if g.home(s) < g.p.Overloaded {
		cores *= 3
	}
	return cores
}

func (g *generator) capacity(c int) float64 {
	switch g.tier(c) {
	case "edge":
		return 16
	case "fog":
		return 64
	}
	return 512
}

const gi = 1 << 30

func (g *generator) services() {
	g.resources = make([][]string, g.p.Clusters)
	for s := range g.p.Services {
		name, ns := service(s), namespace(s)
		base := "base/" + name
		g.files[base+"/kustomization.yaml"] = []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n")
		g.files[base+"/deployment.yaml"] = fmt.Appendf(nil, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      containers:
        - name: app
          image: example.test/%[1]s:1.0
          ports:
            - name: http
              containerPort: 8080
          resources:
            requests:
              cpu: %[3]dm
              memory: %[4]dMi
`, name, ns, int(g.cpu(s)*800), int(g.cpu(s)*1600))
		g.files[base+"/service.yaml"] = fmt.Appendf(nil, `apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
    - name: http
      port: 80
      targetPort: http
      protocol: TCP
`, name, ns)
		home := g.home(s)
		g.resources[home] = append(g.resources[home], "../../"+base)
		g.namespaces[home][ns] = true
		if !g.routed(s) {
			continue
		}
		// The service is routed at home and called from its client's cluster, which
		// reaches it through an ExternalName to home's ingress, as gitmig leaves it.
		overlay := "clusters/" + g.cluster(home)
		g.files[overlay+"/gitmig/ingressroute-"+name+".yaml"] = fmt.Appendf(nil, `apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: %[1]s-http
  namespace: %[2]s
  labels:
    app.kubernetes.io/managed-by: gitmig
spec:
  entryPoints:
    - web
  routes:
    - kind: Rule
      match: Host(`+"`%[1]s`"+`) || Host(`+"`%[1]s.%[2]s`"+`) || Host(`+"`%[1]s.%[2]s.svc`"+`) || Host(`+"`%[1]s.%[2]s.svc.cluster.local`"+`) || Host(`+"`%[3]s`"+`)
      services:
        - kind: Service
          name: %[1]s
          namespace: %[2]s
          port: 80
`, name, ns, g.dnsName(home))
		g.resources[home] = append(g.resources[home], "gitmig/ingressroute-"+name+".yaml")
		client := g.home(s + 1)
		if client == home {
			continue
		}
		stub := "clusters/" + g.cluster(client)
		g.files[stub+"/gitmig/externalname-"+name+".yaml"] = fmt.Appendf(nil, `apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  namespace: %[2]s
  labels:
    app.kubernetes.io/managed-by: gitmig
spec:
  type: ExternalName
  externalName: %[3]s
  ports:
    - name: http
      port: 80
      protocol: TCP
`, name, ns, g.dnsName(home))
		g.resources[client] = append(g.resources[client], "gitmig/externalname-"+name+".yaml")
		g.namespaces[client][ns] = true
	}
}

func (g *generator) overlays() {
	for c := range g.p.Clusters {
		overlay := "clusters/" + g.cluster(c)
		var b strings.Builder
		fmt.Fprintf(&b, "# %s, a %s cluster of the generated fleet.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n", g.cluster(c), g.tier(c))
		entries := g.resources[c]
		if len(g.namespaces[c]) > 0 {
			var ns strings.Builder
			for i, name := range slices.Sorted(maps.Keys(g.namespaces[c])) {
				if i > 0 {
					ns.WriteString("---\n")
				}
				fmt.Fprintf(&ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
			}
			g.files[overlay+"/namespaces.yaml"] = []byte(ns.String())
			entries = append([]string{"namespaces.yaml"}, entries...)
		}
		for _, e := range entries {
			fmt.Fprintf(&b, "  - %s\n", e)
		}
		if len(entries) == 0 {
			b.WriteString("  []\n")
		}
		g.files[overlay+"/kustomization.yaml"] = []byte(strings.Replace(b.String(), "resources:\n  []\n", "resources: []\n", 1))
	}
}

func (g *generator) config() {
	var b strings.Builder
	fmt.Fprintf(&b, "# A generated fleet: %d services on %d clusters.\napiVersion: gitmig.dev/v1alpha1\nkind: Config\nclusters:\n", g.p.Services, g.p.Clusters)
	for c := range g.p.Clusters {
		capacity := g.capacity(c)
		fmt.Fprintf(&b, "  - {name: %s, tier: %s, capacity: {cpu: \"%g\", memory: %gGi}, ingress: {dnsName: %s, address: 10.%d.%d.10, entryPoints: {web: 80, websecure: 443}}}\n",
			g.cluster(c), g.tier(c), capacity, capacity*4, g.dnsName(c), 64+c/250, c%250)
	}
	b.WriteString("latency:\n")
	for i := range g.p.Clusters {
		for j := i + 1; j < g.p.Clusters; j++ {
			fmt.Fprintf(&b, "  - {between: [%s, %s], ms: %d}\n", g.cluster(i), g.cluster(j), 2+(i*7+j*13)%40)
		}
	}
	b.WriteString("services:\n")
	for s := range g.p.Services {
		fmt.Fprintf(&b, "  - {name: %s, namespace: %s, base: base/%s", service(s), namespace(s), service(s))
		if g.routed(s) {
			fmt.Fprintf(&b, ", clients: [%s]", service(s+1))
		}
		if s%11 == 3 {
			b.WriteString(", pinned: true")
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(&b, `policy:
  prometheus: {url: http://127.0.0.1:9090, timeout: 30s, clusterLabel: cluster}
  overload: {cpu: 0.80, memory: 0.85}
  target: {cpu: 0.70, memory: 0.75}
  sustain: 10m
  cooldown: 1h
  maxConcurrent: %d
  stickiness: 10
  drain: 5m
  stepTimeout: 30m
gitops:
  remote: %s
  branch: main
  engine: none
  forge: local
  dns: externalname
`, g.p.MaxConcurrent, g.p.Remote)
	g.files["gitmig.yaml"] = []byte(b.String())
}

// metrics writes the snapshot: every service's usage and requests, and per cluster
// their sums against its capacity.
func (g *generator) metrics() []byte {
	used := make([]float64, g.p.Clusters)
	var workloads strings.Builder
	for s := range g.p.Services {
		cpu := g.cpu(s)
		used[g.home(s)] += cpu
		fmt.Fprintf(&workloads, "  - {cluster: %s, namespace: %s, name: %s, cpu: {usage: %g, requests: %g}, memory: {usage: %d, requests: %d}}\n",
			g.cluster(g.home(s)), namespace(s), service(s), cpu, cpu*0.8, int64(cpu*2*gi), int64(cpu*1.6*gi))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: gitmig.dev/v1alpha1\nkind: MetricsSnapshot\nevaluatedAt: \"2026-05-04T09:00:00Z\"\nsustain: 10m\nsource: fleetgen\nclusters:\n")
	for c := range g.p.Clusters {
		capacity := g.capacity(c)
		// Hot clusters stay above 80% of cpu for the whole window.
		cpu := used[c]
		if c < g.p.Overloaded {
			cpu = max(cpu, 0.9*capacity)
		}
		fmt.Fprintf(&b, "  - {name: %s, cpu: {sustained: %g, used: %g, requests: %g, capacity: %g}, memory: {sustained: %d, used: %d, requests: %d, capacity: %d}}\n",
			g.cluster(c), cpu*0.98, cpu, cpu*0.8, capacity,
			int64(cpu*2*gi*0.98), int64(cpu*2*gi), int64(cpu*1.6*gi), int64(capacity*4*gi))
	}
	b.WriteString("workloads:\n")
	b.WriteString(workloads.String())
	return []byte(b.String())
}

// WriteDir writes the fleet's files under dir, and its metrics as metrics.yaml beside
// them.
func (f *Fleet) WriteDir(dir string) error {
	for p, data := range f.Files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "metrics.yaml"), f.Metrics, 0o644)
}

// Overlays returns the overlay folders of the fleet, sorted.
func (f *Fleet) Overlays() []string {
	var dirs []string
	for p := range f.Files {
		if strings.HasPrefix(p, "clusters/") && path.Base(p) == "kustomization.yaml" {
			dirs = append(dirs, path.Dir(p))
		}
	}
	slices.Sort(dirs)
	return dirs
}
