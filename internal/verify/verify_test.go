package verify

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/tree"
)

// handMadeConfig is a two-cluster fleet: api runs in east and is called by web in
// west; the trees below are written by hand, as a team would before adopting gitmig.
const handMadeConfig = `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - name: west
    tier: edge
    ingress: {dnsName: west.example.internal, entryPoints: ` + entryPoints + `}
  - name: east
    tier: cloud
    ingress: {dnsName: east.example.internal, entryPoints: ` + entryPoints + `}
services:
  - {name: api, namespace: shop, base: base/api, clients: [web]}
  - {name: web, namespace: shop, base: base/web}
`

const entryPoints = "{web: 80, grpc: 9000, rpc: 9180, websecure: {port: 443, protocol: tls}, db: {port: 5432, protocol: tcp}, stats: {port: 8125, protocol: udp}}"

// handMadeTree is correct: west reaches api through an ExternalName to east's ingress,
// where a traefik.io route per port forwards every in-cluster name to api: an
// IngressRoute for each HTTP port (h2c for rpc), a passthrough IngressRouteTCP on SNI
// for tls, an IngressRouteTCP HostSNI(`*`) for db and an IngressRouteUDP for stats.
func handMadeTree() map[string]string {
	return map[string]string{
		"base/api/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
		"base/api/deployment.yaml":    deployment("api"),
		"base/api/service.yaml": service("api", "  ports:\n  - {name: http, port: 80}\n  - {name: grpc, port: 9000}\n"+
			"  - {name: rpc, port: 9180, appProtocol: kubernetes.io/h2c}\n  - {name: tls, port: 443, appProtocol: https}\n"+
			"  - {name: db, port: 5432, appProtocol: tcp}\n  - {name: stats, port: 8125, protocol: UDP}\n"),
		"base/web/kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
		"base/web/deployment.yaml":    deployment("web"),
		"base/web/service.yaml":       service("web", "  ports:\n  - {name: http, port: 80}\n"),

		"clusters/west/kustomization.yaml": "resources: [namespace.yaml, ../../base/web, api-externalname.yaml]\n",
		"clusters/west/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"clusters/west/api-externalname.yaml": `apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  type: ExternalName
  externalName: east.example.internal
  ports: [{name: http, port: 80}, {name: grpc, port: 9000}, {name: rpc, port: 9180}, {name: tls, port: 443}, {name: db, port: 5432}, {name: stats, port: 8125, protocol: UDP}]
`,
		"clusters/east/kustomization.yaml": "resources: [namespace.yaml, ../../base/api, routes.yaml, more-routes.yaml]\n",
		"clusters/east/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
		"clusters/east/routes.yaml": ingressRoute("traefik.io", "api-http", "web", allHosts, "80") + "---\n" +
			ingressRoute("traefik.io", "api-grpc", "grpc", allHosts, "grpc"),
		"clusters/east/more-routes.yaml": moreRoutes(),
	}
}

// moreRoutes are east's routes to api's ports that do not speak HTTP/1.1.
func moreRoutes() string {
	return strings.Join([]string{
		route("IngressRoute", "api-rpc", "rpc", allHosts, "{name: api, port: 9180, scheme: h2c}", ""),
		route("IngressRouteTCP", "api-tls", "websecure", allSNI, "{name: api, port: tls}", "tls: {passthrough: true}"),
		route("IngressRouteTCP", "api-db", "db", "HostSNI(`*`)", "{name: api, port: 5432}", ""),
		route("IngressRouteUDP", "api-stats", "stats", "", "{name: api, port: 8125}", ""),
	}, "---\n")
}

const allSNI = "HostSNI(`api`) || HostSNI(`api.shop`) || HostSNI(`api.shop.svc`) || HostSNI(`api.shop.svc.cluster.local`)"

// route is a traefik.io route of kind on one entry point, forwarding to service (a
// YAML mapping); match is left out when empty, spec carries further fields of spec.
func route(kind, name, entryPoint, match, service, spec string) string {
	r := "apiVersion: traefik.io/v1alpha1\nkind: " + kind + "\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n" +
		"  entryPoints: [" + entryPoint + "]\n  routes:\n  - services: [" + service + "]\n"
	if match != "" {
		r += "    match: \"" + strings.ReplaceAll(match, `"`, `\"`) + "\"\n"
	}
	if spec != "" {
		r += "  " + spec + "\n"
	}
	return r
}

const allHosts = "Host(`api`) || Host(`api.shop`) || Host(`api.shop.svc`) || Host(`api.shop.svc.cluster.local`)"

func deployment(name string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: shop}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec: {containers: [{name: main, image: example/` + name + `:1}]}
`
}

func service(name, ports string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n  selector: {app: " + name + "}\n" + ports
}

func ingressRoute(group, name, entryPoint, match, port string) string {
	return `apiVersion: ` + group + `/v1alpha1
kind: IngressRoute
metadata: {name: ` + name + `, namespace: shop}
spec:
  entryPoints: [` + entryPoint + `]
  routes:
  - match: "` + strings.ReplaceAll(match, `"`, `\"`) + `"
    kind: Rule
    services: [{name: api, port: ` + port + `}]
`
}

func verifyTree(t *testing.T, cfgYAML string, files map[string]string) []Finding {
	t.Helper()
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	return Verify(loadModel(t, cfg, files))
}

func TestVerifyAcceptsHandWrittenExternalNameAndIngressRoute(t *testing.T) {
	if findings := verifyTree(t, handMadeConfig, handMadeTree()); len(findings) != 0 {
		t.Fatalf("correct hand-made tree: want no findings, got %v", findings)
	}
}

func TestVerifyRejects(t *testing.T) {
	tests := []struct {
		name    string
		cfg     string
		edit    func(files map[string]string)
		service string
		cluster string
		want    string
	}{
		{
			name: "namespace removed with the base while the ExternalName stays",
			edit: func(f map[string]string) {
				// As if cleanup had dropped a base that carried the Namespace.
				f["clusters/west/kustomization.yaml"] = "resources: [api-externalname.yaml]\n"
			},
			cluster: "west",
			want:    "the build has no Namespace shop for Service/shop/api",
		},
		{
			name:    "destination without an entry point for one port",
			cfg:     strings.Replace(handMadeConfig, "east.example.internal, entryPoints: {web: 80, grpc: 9000, ", "east.example.internal, entryPoints: {web: 80, ", 1),
			edit:    func(map[string]string) {},
			service: "api", cluster: "west",
			want: "port grpc (9000, http): east's Traefik cannot carry it: no entry point on port 9000",
		},
		{
			name: "IngressRoute in the old traefik.containo.us group",
			edit: func(f map[string]string) {
				f["clusters/east/routes.yaml"] = ingressRoute("traefik.containo.us", "api-http", "web", allHosts, "80") + "---\n" +
					ingressRoute("traefik.io", "api-grpc", "grpc", allHosts, "grpc")
			},
			service: "api", cluster: "east",
			want: "IngressRoute IngressRoute/shop/api-http uses the traefik.containo.us API group, removed in Traefik v3",
		},
		{
			name: "destination whose build defines no Namespace",
			edit: func(f map[string]string) {
				f["clusters/east/kustomization.yaml"] = "resources: [../../base/api, routes.yaml, more-routes.yaml]\n"
			},
			cluster: "east",
			want:    "the build has no Namespace shop",
		},
		{
			name: "ExternalName that still sets clusterIP",
			edit: func(f map[string]string) {
				f["clusters/west/api-externalname.yaml"] = strings.Replace(f["clusters/west/api-externalname.yaml"], "type: ExternalName", "type: ExternalName\n  clusterIP: 10.96.0.20", 1)
			},
			service: "api", cluster: "west",
			want: `ExternalName Service Service/shop/api sets clusterIP "10.96.0.20"; the API server rejects it`,
		},
		{
			name: "ExternalName to a name that is no cluster's ingress",
			edit: func(f map[string]string) {
				f["clusters/west/api-externalname.yaml"] = strings.Replace(f["clusters/west/api-externalname.yaml"], "east.example.internal", "api.elsewhere.example", 1)
			},
			service: "api", cluster: "west",
			want: `points at "api.elsewhere.example", which is no cluster's ingress dnsName`,
		},
		{
			name: "migrated service whose destination lost its Deployment",
			edit: func(f map[string]string) {
				f["clusters/east/kustomization.yaml"] = "resources: [namespace.yaml, service.yaml, routes.yaml, more-routes.yaml]\n"
				f["clusters/east/service.yaml"] = f["base/api/service.yaml"]
			},
			service: "api", cluster: "west",
			want: "via east: Service shop/api in east selects no Deployment there",
		},
		{
			name: "route that misses an in-cluster host",
			edit: func(f map[string]string) {
				partial := "Host(`api.shop.svc.cluster.local`) || Host(`api.shop`)"
				f["clusters/east/routes.yaml"] = ingressRoute("traefik.io", "api-http", "web", partial, "80") + "---\n" +
					ingressRoute("traefik.io", "api-grpc", "grpc", allHosts, "grpc")
			},
			service: "api", cluster: "west",
			want: "port http (80, http): east's IngressRoute/shop/api-http on entry point web does not match host api, api.shop.svc",
		},
		{
			name: "route on an entry point whose port is not the service port",
			edit: func(f map[string]string) {
				f["clusters/east/routes.yaml"] = ingressRoute("traefik.io", "api-http", "web", allHosts, "80") + "---\n" +
					ingressRoute("traefik.io", "api-grpc", "web", allHosts, "grpc")
			},
			service: "api", cluster: "west",
			want: "port grpc (9000, http): no traefik.io route in east forwards entry point grpc to Service shop/api port 9000",
		},
		{
			name: "route that matches a host only under a path",
			edit: func(f map[string]string) {
				conditional := "(" + allHosts + ") && PathPrefix(`/v1`)"
				f["clusters/east/routes.yaml"] = ingressRoute("traefik.io", "api-http", "web", conditional, "80") + "---\n" +
					ingressRoute("traefik.io", "api-grpc", "grpc", allHosts, "grpc")
			},
			service: "api", cluster: "west",
			want: "does not match host api, api.shop, api.shop.svc, api.shop.svc.cluster.local",
		},
		{
			name: "destination that cannot reach a dependency of the migrated service",
			// api was moved to east, but its own dependency ledger runs only in west,
			// unrouted and unstubbed in east.
			cfg: handMadeConfig + `  - {name: ledger, namespace: shop, base: base/ledger, clients: [api]}
`,
			edit: func(f map[string]string) {
				f["base/ledger/kustomization.yaml"] = "resources: [deployment.yaml, service.yaml]\n"
				f["base/ledger/deployment.yaml"] = deployment("ledger")
				f["base/ledger/service.yaml"] = service("ledger", "  ports:\n  - {name: http, port: 80}\n")
				f["clusters/west/kustomization.yaml"] = "resources: [namespace.yaml, ../../base/web, api-externalname.yaml, ../../base/ledger]\n"
			},
			service: "ledger", cluster: "east",
			want: "no Service shop/ledger in east, so its name does not resolve there (checked because its client api runs there)",
		},
		{
			name: "TLS port routed by an HTTP router",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(),
					route("IngressRouteTCP", "api-tls", "websecure", allSNI, "{name: api, port: tls}", "tls: {passthrough: true}"),
					route("IngressRoute", "api-tls", "websecure", allHosts, "{name: api, port: 443}", ""), 1)
			},
			service: "api", cluster: "west",
			want: "port tls (443, tls): east's IngressRoute/shop/api-tls on entry point websecure is an HTTP router: Traefik would end the client's TLS itself",
		},
		{
			name: "TLS port whose TCP route ends the TLS",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(), "tls: {passthrough: true}", "tls: {secretName: api-cert}", 1)
			},
			service: "api", cluster: "west",
			want: "port tls (443, tls): east's IngressRouteTCP/shop/api-tls on entry point websecure ends the client's TLS (no tls.passthrough)",
		},
		{
			name: "TLS port whose SNI route misses a name",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(), "HostSNI(`api`) || ", "", 1)
			},
			service: "api", cluster: "west",
			want: "port tls (443, tls): east's IngressRouteTCP/shop/api-tls on entry point websecure does not match SNI api",
		},
		{
			name: "HTTP port behind a TCP router",
			edit: func(f map[string]string) {
				f["clusters/east/routes.yaml"] = route("IngressRouteTCP", "api-http", "web", "HostSNI(`*`)", "{name: api, port: 80}", "") + "---\n" +
					ingressRoute("traefik.io", "api-grpc", "grpc", allHosts, "grpc")
			},
			service: "api", cluster: "west",
			want: "port http (80, http): east's IngressRouteTCP/shop/api-http on entry point web is a TCP router, which cannot see the Host of a request",
		},
		{
			name: "HTTP port behind a router that answers TLS only",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(),
					route("IngressRoute", "api-rpc", "rpc", allHosts, "{name: api, port: 9180, scheme: h2c}", ""),
					route("IngressRoute", "api-rpc", "rpc", allHosts, "{name: api, port: 9180, scheme: h2c}", "tls: {secretName: api-cert}"), 1)
			},
			service: "api", cluster: "west",
			want: "port rpc (9180, h2c): east's IngressRoute/shop/api-rpc on entry point rpc has a tls section, so it answers TLS only",
		},
		{
			name: "h2c port sent HTTP/1.1",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(), ", scheme: h2c", "", 1)
			},
			service: "api", cluster: "west",
			want: "port rpc (9180, h2c): east's IngressRoute/shop/api-rpc on entry point rpc sends HTTP/1.1 to pods that speak h2c",
		},
		{
			name: "TCP port routed on SNI",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = strings.Replace(moreRoutes(), "HostSNI(`*`)", allSNI, 1)
			},
			service: "api", cluster: "west",
			want: "port db (5432, tcp): east's IngressRouteTCP/shop/api-db on entry point db matches on TLS, which a raw TCP client does not speak",
		},
		{
			name:    "TLS port whose entry point is an http one",
			cfg:     strings.Replace(handMadeConfig, "east.example.internal, entryPoints: {web: 80, grpc: 9000, rpc: 9180, websecure: {port: 443, protocol: tls}", "east.example.internal, entryPoints: {web: 80, grpc: 9000, rpc: 9180, websecure: 443", 1),
			edit:    func(map[string]string) {},
			service: "api", cluster: "west",
			want: "port tls (443, tls): east's Traefik cannot carry it: entry point websecure on port 443 is http, not tls as the port's tls route needs",
		},
		{
			name: "two services behind one HostSNI(`*`) entry point",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = moreRoutes() + "---\n" + route("IngressRouteTCP", "cache", "db", "HostSNI(`*`)", "{name: cache, port: 6379}", "")
			},
			service: "api", cluster: "east",
			want: "entry point db routes shop/api and shop/cache, and a HostSNI(`*`) or UDP route there takes every connection",
		},
		{
			name: "two services on one UDP entry point",
			edit: func(f map[string]string) {
				f["clusters/east/more-routes.yaml"] = moreRoutes() + "---\n" + route("IngressRouteUDP", "dns", "stats", "", "{name: dns, namespace: kube-system, port: 53}", "")
			},
			service: "api", cluster: "east",
			want: "entry point stats routes kube-system/dns and shop/api, and a HostSNI(`*`) or UDP route there takes every connection",
		},
		{
			name:    "port override naming no port of the Service",
			cfg:     strings.Replace(handMadeConfig, "base: base/api, clients: [web]}", "base: base/api, clients: [web], ports: [{name: grpc, appProtocol: grpc}, {name: metrics, appProtocol: http}]}", 1),
			edit:    func(map[string]string) {},
			service: "api", cluster: "",
			want: "gitmig.yaml services[0].ports[1] names port metrics, which Service shop/api does not have (its ports: http/80, grpc/9000, rpc/9180, tls/443, db/5432, stats/8125)",
		},
		{
			name:    "route that misses a host gitmig.yaml lists",
			cfg:     strings.Replace(handMadeConfig, "base: base/api, clients: [web]}", "base: base/api, clients: [web], hosts: [api.example.net]}", 1),
			edit:    func(map[string]string) {},
			service: "api", cluster: "west",
			want: "port http (80, http): east's IngressRoute/shop/api-http on entry point web does not match host api.example.net",
		},
		{
			name: "ExternalName loop between two clusters",
			edit: func(f map[string]string) {
				f["clusters/east/kustomization.yaml"] = "resources: [namespace.yaml, api-externalname.yaml, routes.yaml, more-routes.yaml]\n"
				f["clusters/east/api-externalname.yaml"] = strings.Replace(f["clusters/west/api-externalname.yaml"], "east.example.internal", "west.example.internal", 1)
				f["clusters/west/routes.yaml"] = f["clusters/east/routes.yaml"]
				f["clusters/west/more-routes.yaml"] = f["clusters/east/more-routes.yaml"]
				f["clusters/west/kustomization.yaml"] = "resources: [namespace.yaml, ../../base/web, api-externalname.yaml, routes.yaml, more-routes.yaml]\n"
			},
			service: "api", cluster: "west",
			want: "ExternalName loop: west → east → west",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == "" {
				cfg = handMadeConfig
			}
			files := handMadeTree()
			tt.edit(files)
			findings := verifyTree(t, cfg, files)
			for _, f := range findings {
				if f.Service == tt.service && f.Cluster == tt.cluster && strings.Contains(f.Problem, tt.want) {
					return
				}
			}
			t.Fatalf("want a finding for service %q in cluster %q containing %q, got:\n%s", tt.service, tt.cluster, tt.want, findingLines(findings))
		})
	}
}

func findingLines(findings []Finding) string {
	var lines []string
	for _, f := range findings {
		lines = append(lines, "  "+f.String())
	}
	return strings.Join(lines, "\n")
}

// memTree is a tree of files in memory.
func memTree(files map[string]string) tree.Tree {
	fsys := fstest.MapFS{}
	for p, content := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(content)}
	}
	return tree.FromFS(fsys)
}

// loadModel builds the model of files, every overlay of which must build.
func loadModel(t *testing.T, cfg *config.Config, files map[string]string) *fleet.Model {
	t.Helper()
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), memTree(files), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return model
}
