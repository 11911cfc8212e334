package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/traffic"
	"github.com/gitmig/gitmig/internal/tree"
)

const testConfig = `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: east, tier: edge, ingress: {dnsName: east.test, entryPoints: {web: 80}}}
  - {name: west, tier: cloud, ingress: {dnsName: west.test, entryPoints: {web: 80}}}
services:
  - {name: api, namespace: shop, base: base/api, clients: [web]}
  - {name: web, namespace: shop, base: base/web}
gitops: {remote: fleet.git}
`

func testFiles() fstest.MapFS {
	deployment := func(name string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: " + name + ", namespace: shop}\n" +
			"spec:\n  selector: {matchLabels: {app: " + name + "}}\n  template:\n    metadata: {labels: {app: " + name + "}}\n    spec: {containers: [{name: main, image: example.test/" + name + "}]}\n"
	}
	service := func(name string) string {
		return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: shop}\nspec:\n  selector: {app: " + name + "}\n  ports: [{name: http, port: 80, appProtocol: http}]\n"
	}
	return fstest.MapFS{
		"base/api/kustomization.yaml":      {Data: []byte("resources: [deployment.yaml, service.yaml]\n")},
		"base/api/deployment.yaml":         {Data: []byte(deployment("api"))},
		"base/api/service.yaml":            {Data: []byte(service("api"))},
		"base/web/kustomization.yaml":      {Data: []byte("resources: [deployment.yaml, service.yaml]\n")},
		"base/web/deployment.yaml":         {Data: []byte(deployment("web"))},
		"base/web/service.yaml":            {Data: []byte(service("web"))},
		"clusters/east/kustomization.yaml": {Data: []byte("resources: [ns.yaml, ../../base/api, route.yaml]\n")},
		"clusters/east/ns.yaml":            {Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")},
		"clusters/east/route.yaml": {Data: []byte("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: api, namespace: shop}\n" +
			"spec:\n  entryPoints: [web]\n  routes:\n  - match: Host(`api`)\n    services: [{name: api, port: http}]\n")},
		"clusters/west/kustomization.yaml": {Data: []byte("resources: [ns.yaml, ../../base/web]\n")},
		"clusters/west/ns.yaml":            {Data: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")},
	}
}

func testModel(t *testing.T, b *Builder, files fstest.MapFS) *Model {
	t.Helper()
	cfg, err := config.Parse([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	m, err := b.Load(context.Background(), tree.FromFS(files), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelIndexes(t *testing.T) {
	m := testModel(t, NewBuilder(nil, 0), testFiles())
	api, _ := m.Config.Service("api")
	web, _ := m.Config.Service("web")
	if got := m.Running(api); !slices.Equal(got, []string{"east"}) {
		t.Errorf("Running(api) = %v", got)
	}
	if got := m.RoutedIn(api); !slices.Equal(got, []string{"east"}) {
		t.Errorf("RoutedIn(api) = %v", got)
	}
	if got := m.RoutedIn(web); len(got) != 0 {
		t.Errorf("RoutedIn(web) = %v", got)
	}
	ports, err := m.Ports(api)
	if err != nil || len(ports) != 1 || ports[0] != (Port{Name: "http", Port: 80, AppProtocol: "http"}) {
		t.Errorf("Ports(api) = %+v, %v", ports, err)
	}
	if sel := m.Selector(web); sel["app"] != "web" {
		t.Errorf("Selector(web) = %v", sel)
	}
	route := m.Build("east").RoutesTo("shop", "api")
	if len(route) != 1 || route[0].IngressRoute.Routes[0].Services[0].PortName != "http" {
		t.Errorf("RoutesTo(shop/api) = %+v", route)
	}
}

// Every kind of Traefik route is read, indexed by the Service it forwards to and by
// its entry points; HostSNI(`*`) without TLS and UDP routes take their entry point.
func TestTraefikRoutesOfEveryKind(t *testing.T) {
	files := testFiles()
	files["clusters/east/kustomization.yaml"] = &fstest.MapFile{Data: []byte("resources: [ns.yaml, ../../base/api, route.yaml, tcp.yaml]\n")}
	files["clusters/east/tcp.yaml"] = &fstest.MapFile{Data: []byte(`apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: api-tls, namespace: shop}
spec:
  entryPoints: [websecure]
  routes:
  - match: HostSNI(` + "`api`" + `) || HostSNI(` + "`api.shop`" + `)
    services: [{name: api, port: 443}]
  tls: {passthrough: true}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: db, namespace: shop}
spec:
  entryPoints: [db]
  routes:
  - match: HostSNI(` + "`*`" + `)
    services: [{name: db, port: 5432}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRouteUDP
metadata: {name: dns, namespace: shop}
spec:
  entryPoints: [dns]
  routes:
  - services: [{name: dns, port: 53}, {name: api, namespace: other, port: 53}]
---
apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: web, namespace: shop}
spec:
  entryPoints: [web]
  routes:
  - match: HostSNI(` + "`web`" + `)
    services: [{name: web, port: 80}]
`)}
	m := testModel(t, NewBuilder(nil, 0), files)
	b := m.Build("east")
	var kinds []string
	for _, o := range b.RoutesTo("shop", "api") {
		kinds = append(kinds, o.Kind+"/"+o.Name)
	}
	if want := []string{"IngressRoute/api", "IngressRouteTCP/api-tls"}; !slices.Equal(kinds, want) {
		t.Errorf("RoutesTo(shop/api) = %v, want %v", kinds, want)
	}
	tcp, _ := b.Find(TraefikGroup, KindIngressRouteTCP, "shop", "api-tls")
	if tcp.IngressRoute.TLS == nil || !tcp.IngressRoute.TLS.Passthrough || tcp.CatchesAll() {
		t.Errorf("IngressRouteTCP api-tls: tls %+v, catches all %v", tcp.IngressRoute.TLS, tcp.CatchesAll())
	}
	if got := HostSNIs(tcp.IngressRoute.Routes[0].Match); !slices.Equal(got, []string{"api", "api.shop"}) {
		t.Errorf("HostSNIs = %v", got)
	}
	db := m.Config.Services[0]
	db.Name = "db"
	if got := m.RoutedIn(db); !slices.Equal(got, []string{"east"}) {
		t.Errorf("RoutedIn(db), routed by an IngressRouteTCP = %v", got)
	}
	want := map[string]traffic.EntryPointUse{
		"web":       {Services: []string{"shop/api", "shop/web"}},
		"websecure": {Services: []string{"shop/api"}},
		"db":        {Services: []string{"shop/db"}, CatchAll: true},
		"dns":       {Services: []string{"other/api", "shop/dns"}, CatchAll: true},
	}
	if got := b.EntryPoints(); !reflect.DeepEqual(got, want) {
		t.Errorf("EntryPoints() = %+v\nwant %+v", got, want)
	}
}

func TestPortKind(t *testing.T) {
	svc := config.Service{Ports: []config.PortProtocol{{Name: "legacy", AppProtocol: "grpc"}}}
	for _, tt := range []struct {
		port Port
		want traffic.Kind
	}{
		{Port{Name: "web", Port: 80}, traffic.HTTP},
		{Port{Name: "controller", Port: 443, AppProtocol: "https"}, traffic.TLS},
		{Port{Name: "legacy", Port: 9000, AppProtocol: "http"}, traffic.H2C},
		{Port{Name: "dns", Port: 53, Protocol: "UDP"}, traffic.UDP},
	} {
		if got, err := tt.port.Kind(svc); err != nil || got != tt.want {
			t.Errorf("%+v.Kind() = %q, %v; want %q", tt.port, got, err, tt.want)
		}
	}
	if _, err := (Port{Name: "s1ap", Port: 36412, Protocol: "SCTP"}).Kind(svc); err == nil {
		t.Error("an SCTP port has a kind of route")
	}
}

// An edit rebuilds exactly the overlays that read what it changed.
func TestWithRebuildsOnlyWhatTheEditsChange(t *testing.T) {
	m := testModel(t, NewBuilder(nil, 0), testFiles())
	edited, err := m.With([]tree.Edit{{Path: "clusters/west/extra.yaml", Content: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: shop}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Build("east") != m.Build("east") || edited.Build("west") != m.Build("west") {
		t.Error("a file no kustomization lists rebuilt an overlay")
	}
	edited, err = m.With([]tree.Edit{{Path: "clusters/west/kustomization.yaml", Content: []byte("resources: [ns.yaml, ../../base/web, ../../base/api]\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Build("east") != m.Build("east") || edited.Build("west") == m.Build("west") {
		t.Error("editing west's kustomization must rebuild west alone")
	}
	api, _ := m.Config.Service("api")
	if got := edited.Running(api); !slices.Equal(got, []string{"east", "west"}) || len(m.Running(api)) != 1 {
		t.Errorf("Running(api) after = %v, before = %v", got, m.Running(api))
	}
	// A base read by one overlay rebuilds that one.
	edited, err = m.With([]tree.Edit{{Path: "base/api/service.yaml", Content: []byte(strings.Replace(string(testFiles()["base/api/service.yaml"].Data), "port: 80", "port: 8080", 1))}})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Build("east") == m.Build("east") || edited.Build("west") != m.Build("west") {
		t.Error("editing base/api must rebuild east, which reads it, and only east")
	}
	if ports, _ := edited.Ports(api); ports[0].Port != 8080 {
		t.Errorf("ports after the edit: %+v", ports)
	}
	// An edit that breaks a build says which cluster.
	_, err = m.With([]tree.Edit{{Path: "clusters/east/kustomization.yaml", Content: []byte("resources: [missing.yaml]\n")}})
	var be *BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "cluster east") || be.Dir != "clusters/east" {
		t.Errorf("a broken overlay: %v", err)
	}
}

func TestCacheReusesBuildsUntilWhatTheyReadChanges(t *testing.T) {
	dir := t.TempDir()
	cache, err := OpenCache(dir, DefaultCacheSize)
	if err != nil {
		t.Fatal(err)
	}
	files := testFiles()
	first := testModel(t, NewBuilder(cache, 0), files)

	// A new builder, as a new process would be, finds every build in the cache: a file
	// that no build reads breaks nothing, however the files are given.
	files["clusters/east/unused.yaml"] = &fstest.MapFile{Data: []byte("x: 1\n")}
	counting := &countingTree{Tree: tree.FromFS(files)}
	cfg := first.Config
	second, err := NewBuilder(cache, 0).Load(context.Background(), counting, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if counting.reads != 0 {
		t.Errorf("a warm load read %d files, want none: hashes answer", counting.reads)
	}
	for _, cl := range []string{"east", "west"} {
		if !sameObjects(first.Build(cl), second.Build(cl)) {
			t.Errorf("cluster %s: the cached build differs from the built one", cl)
		}
	}

	// A change to a file a build read builds it again, with the change.
	files["base/api/deployment.yaml"] = &fstest.MapFile{Data: []byte(strings.Replace(string(files["base/api/deployment.yaml"].Data), "example.test/api", "example.test/api:2", 1))}
	counting = &countingTree{Tree: tree.FromFS(files)}
	third, err := NewBuilder(cache, 0).Load(context.Background(), counting, cfg)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := third.Build("east").Deployment("shop", "api")
	if !strings.Contains(string(o.JSON), "example.test/api:2") {
		t.Error("the cache answered for a build whose base changed")
	}
	if counting.reads == 0 {
		t.Error("the changed overlay was not built again")
	}

	// The cache may go at any time; a damaged entry is a miss.
	entries, _ := filepath.Glob(filepath.Join(dir, "*", "builds", "*", "*.gob"))
	if len(entries) == 0 {
		t.Fatal("no cache entries")
	}
	for _, e := range entries {
		if err := os.WriteFile(e, []byte("not gob"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewBuilder(cache, 0).Load(context.Background(), tree.FromFS(files), cfg); err != nil {
		t.Fatalf("damaged cache: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := NewBuilder(cache, 0).Load(context.Background(), tree.FromFS(files), cfg); err != nil {
		t.Fatalf("deleted cache: %v", err)
	}
}

func TestCachePrunesToItsBound(t *testing.T) {
	cache, err := OpenCache(t.TempDir(), 1) // every build is over the bound
	if err != nil {
		t.Fatal(err)
	}
	testModel(t, NewBuilder(cache, 0), testFiles())
	entries, _ := filepath.Glob(filepath.Join(cache.dir, "builds", "*", "*.gob"))
	if len(entries) != 0 {
		t.Errorf("%d builds kept over a bound of 1 byte", len(entries))
	}
}

// A kustomization with an openapi field sets a schema kustomize keeps for the whole
// process; it is built alone, and the builds around it are unaffected.
func TestOpenAPIKustomizationBuildsAlone(t *testing.T) {
	files := testFiles()
	files["clusters/west/kustomization.yaml"] = &fstest.MapFile{Data: []byte("openapi:\n  version: v1.21.2\nresources: [ns.yaml, ../../base/web]\n")}
	m := testModel(t, NewBuilder(nil, 2), files)
	web, _ := m.Config.Service("web")
	if got := m.Running(web); !slices.Equal(got, []string{"west"}) {
		t.Errorf("Running(web) = %v", got)
	}
}

// A malformed typed field is reported on the object, not as a failed build.
func TestMalformedObjectsAreKept(t *testing.T) {
	files := testFiles()
	files["clusters/east/route.yaml"] = &fstest.MapFile{Data: []byte("apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {name: api, namespace: shop}\nspec: {routes: oops}\n")}
	m := testModel(t, NewBuilder(nil, 0), files)
	o, ok := m.Build("east").Find(TraefikGroup, "IngressRoute", "shop", "api")
	if !ok || o.IngressRoute != nil || o.Malformed == "" {
		t.Errorf("malformed IngressRoute: %+v", o)
	}
}

type countingTree struct {
	tree.Tree
	reads int
}

func (c *countingTree) ReadFile(name string) ([]byte, error) {
	c.reads++
	return c.Tree.ReadFile(name)
}

func (c *countingTree) Hash(name string) (string, error) { return c.Tree.Hash(name) }

func sameObjects(a, b *Build) bool {
	if len(a.Objects) != len(b.Objects) {
		return false
	}
	for i := range a.Objects {
		if string(a.Objects[i].JSON) != string(b.Objects[i].JSON) {
			return false
		}
	}
	return true
}
