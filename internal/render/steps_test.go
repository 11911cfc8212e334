package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
	"github.com/gitmig/gitmig/internal/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fleetCase is a GitOps repository and the migration the step tests take it through.
type fleetCase struct {
	name     string
	dir      string
	service  string
	from, to string
	id       string
}

var (
	exampleFleet = fleetCase{
		name: "example", dir: "../..",
		service: "orc8r", from: "edge", to: "cloud",
		id: "orc8r-edge-to-cloud-20261127-0900",
	}
	// metroFleet moves a two-port service that carries its own Namespace to a site
	// whose overlay is outside clusters/ and which cannot reach the service's
	// dependency, so step 1 writes an ExternalName stub for it.
	metroFleet = fleetCase{
		name: "metro", dir: "testdata/fleets/metro",
		service: "sessiond", from: "metro-east", to: "metro-west",
		id: "sessiond-metro-east-to-metro-west-20261127-0900",
	}
)

// load reads the fleet's gitmig.yaml and builds its model.
func (f fleetCase) load(t *testing.T) *testRepo {
	t.Helper()
	cfg, err := config.Load(filepath.Join(f.dir, "gitmig.yaml"), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	disk, err := tree.Disk(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), disk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{model: model}
}

// testRepo is a fleet's model that the tests move forward one edit at a time; the
// files on disk are never touched.
type testRepo struct {
	model *fleet.Model
}

func (r *testRepo) Config() *config.Config { return r.model.Config }

func (r *testRepo) Render(m Migration, s step.Step) (*Change, error) { return Render(r.model, m, s) }

// Apply moves the model on to the tree with edits.
func (r *testRepo) Apply(edits []tree.Edit) error {
	next, err := r.model.With(edits)
	if err != nil {
		return err
	}
	r.model = next
	return nil
}

func (r *testRepo) Exists(p string) bool {
	_, err := r.model.Tree.Stat(p)
	return err == nil
}

func (f fleetCase) migration(t *testing.T, repo *testRepo) Migration {
	t.Helper()
	m, err := NewMigration(repo.Config(), f.id, f.service, f.from, f.to)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// runSteps renders and applies steps in order, failing the test on any error.
func runSteps(t *testing.T, repo *testRepo, m Migration, steps ...step.Step) {
	t.Helper()
	for _, s := range steps {
		change, err := repo.Render(m, s)
		if err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		repo.model = change.After
	}
}

// mustBuild returns one cluster's build.
func mustBuild(t *testing.T, repo *testRepo, cluster string) *fleet.Build {
	t.Helper()
	b := repo.model.Build(cluster)
	if b == nil {
		t.Fatalf("no cluster %s", cluster)
	}
	return b
}

// buildYAML is the kustomize build of one cluster's overlay, as kustomize prints it.
func buildYAML(t *testing.T, repo *testRepo, cluster string) []byte {
	t.Helper()
	yml, err := fleet.NewBuilder(nil, 1).BuildYAML(repo.model.Tree, mustCluster(t, repo, cluster).Path)
	if err != nil {
		t.Fatal(err)
	}
	return yml
}

// TestStepsGolden takes each fleet through the four steps. After every step it checks
// that the step edited only its cluster's overlay, that every object it wrote is
// labelled and annotated, that every overlay builds and that Verify finds nothing; and
// it compares the edits and the edited cluster's build with testdata/golden.
func TestStepsGolden(t *testing.T) {
	for _, f := range []fleetCase{exampleFleet, metroFleet} {
		t.Run(f.name, func(t *testing.T) {
			repo := f.load(t)
			m := f.migration(t, repo)
			if findings := verifyRepo(t, repo); len(findings) != 0 {
				t.Fatalf("before step 1, Verify: %v", findings)
			}
			for _, s := range step.All() {
				change, err := repo.Render(m, s)
				if err != nil {
					t.Fatalf("step %s: %v", s, err)
				}
				wantCluster := m.Cluster(s)
				if change.Cluster != wantCluster.Name || change.Step != s || change.Migration.ID != f.id {
					t.Errorf("step %s: change of cluster %s, step %s, id %s", s, change.Cluster, change.Step, change.Migration.ID)
				}
				checkEdits(t, s, m, wantCluster.Path, change.Edits)
				if err := repo.Apply(change.Edits); err != nil {
					t.Fatal(err)
				}
				if findings := verifyRepo(t, repo); len(findings) != 0 {
					t.Errorf("after step %s, Verify: %v", s, findings)
				}
				golden(t, filepath.Join("testdata", "golden", f.name, s.String()+".txtar"),
					renderChange(t, repo, change))
			}
		})
	}
}

// verifyRepo verifies the model, whose overlays all build.
func verifyRepo(t *testing.T, repo *testRepo) []verify.Finding {
	t.Helper()
	return verify.Verify(repo.model)
}

// checkEdits asserts that a step touches only its cluster's overlay, and that every
// object it writes under gitmig/ carries gitmig's label and the migration and step.
func checkEdits(t *testing.T, s step.Step, m Migration, overlay string, edits []tree.Edit) {
	t.Helper()
	if len(edits) == 0 {
		t.Fatalf("step %s: no edits", s)
	}
	for _, e := range edits {
		if !strings.HasPrefix(e.Path, overlay+"/") {
			t.Errorf("step %s edits %s, outside the overlay %s", s, e.Path, overlay)
		}
		if e.Delete || path.Base(e.Path) == "kustomization.yaml" {
			continue
		}
		if !strings.HasPrefix(e.Path, overlay+"/gitmig/") {
			t.Errorf("step %s writes %s, outside gitmig/", s, e.Path)
		}
		docs := fleet.Documents(e.Content)
		if len(docs) == 0 {
			t.Fatalf("%s holds no object", e.Path)
		}
		for i, doc := range docs {
			labels, _ := fleet.Lookup(doc, "metadata", "labels").(map[string]any)
			annotations, _ := fleet.Lookup(doc, "metadata", "annotations").(map[string]any)
			if labels[LabelManagedBy] != ManagedByGitmig || annotations[AnnotationMigration] != m.ID ||
				annotations[AnnotationStep] != s.String() {
				t.Errorf("%s document %d: labels %v, annotations %v; want %s=%s, %s=%s, %s=%s", e.Path, i,
					labels, annotations, LabelManagedBy, ManagedByGitmig, AnnotationMigration, m.ID, AnnotationStep, s)
			}
		}
	}
}

// renderChange writes a step's edits and the build of its cluster afterwards as a txtar
// archive: one "-- edit: path --" or "-- delete: path --" section per file, then
// "-- build: cluster --".
func renderChange(t *testing.T, repo *testRepo, change *Change) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "step %s of %s edits cluster %s\n", change.Step, change.Migration.ID, change.Cluster)
	for _, e := range change.Edits {
		if e.Delete {
			fmt.Fprintf(&b, "-- delete: %s --\n", e.Path)
			continue
		}
		fmt.Fprintf(&b, "-- edit: %s --\n", e.Path)
		b.Write(e.Content)
	}
	fmt.Fprintf(&b, "-- build: %s --\n", change.Cluster)
	b.Write(buildYAML(t, repo, change.Cluster))
	return b.Bytes()
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./internal/render -update rewrites it):\n%s", file, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines of want missing from got (-) and of got missing from want (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	if len(out) == 0 {
		return "(same lines, in another order)"
	}
	return strings.Join(out, "\n")
}

// TestExampleAfterCleanup checks the example after orc8r's move from edge to cloud, as
// issue 2 states it: edge keeps orc8r's name as an ExternalName to cloud's ingress,
// with its ports and no cluster IP, and every Namespace its objects need; cloud runs
// orc8r and routes every in-cluster name of it.
func TestExampleAfterCleanup(t *testing.T) {
	repo := exampleFleet.load(t)
	m := exampleFleet.migration(t, repo)
	runSteps(t, repo, m, step.All()...)

	edge := mustBuild(t, repo, "edge")
	cloud, _ := repo.Config().Cluster("cloud")
	svc := findService(t, edge, "orc8r-ns", "orc8r")
	if !svc.IsExternalName() || svc.ExternalName != cloud.Ingress.DNSName {
		t.Errorf("edge Service orc8r: type %q, externalName %q; want ExternalName to %s",
			svc.Type, svc.ExternalName, cloud.Ingress.DNSName)
	}
	if svc.ClusterIP != "" || len(svc.ClusterIPs) != 0 || len(svc.Selector) != 0 {
		t.Errorf("edge Service orc8r: clusterIP %q, clusterIPs %v, selector %v; want none",
			svc.ClusterIP, svc.ClusterIPs, svc.Selector)
	}
	if got := portList(svc); got != "controller/443/TCP rpc/9180/TCP api/8080/TCP" {
		t.Errorf("edge Service orc8r ports = %s", got)
	}
	if _, ok := edge.Deployment("orc8r-ns", "orc8r"); ok {
		t.Error("edge still has Deployment orc8r")
	}
	for _, ns := range []string{"orc8r-ns", "agw-ns"} {
		if !edge.HasNamespace(ns) {
			t.Errorf("edge has no Namespace %s", ns)
		}
	}
	if _, ok := edge.Deployment("agw-ns", "agw"); !ok {
		t.Error("edge lost Deployment agw")
	}

	cloudBuild := mustBuild(t, repo, "cloud")
	if _, ok := cloudBuild.Deployment("orc8r-ns", "orc8r"); !ok {
		t.Error("cloud has no Deployment orc8r")
	}
	if !cloudBuild.HasNamespace("orc8r-ns") {
		t.Error("cloud has no Namespace orc8r-ns")
	}
	hosts := []string{"orc8r", "orc8r.orc8r-ns", "orc8r.orc8r-ns.svc", "orc8r.orc8r-ns.svc.cluster.local"}
	if got := fleet.InClusterHosts("orc8r", "orc8r-ns"); !slices.Equal(got, hosts) {
		t.Errorf("InClusterHosts = %q, want %q", got, hosts)
	}
	// Gateways dial the controller by in-cluster names and by the names gitmig.yaml
	// lists; the TLS reaches orc8r unopened, the gRPC as h2c.
	names := append(hosts, cloud.Ingress.DNSName, "controller.magma.test", "bootstrapper-controller.magma.test")
	if got, want := routeSummary(t, cloudBuild, "orc8r-ns", "orc8r", names), "tls@websecure:443 h2c@rpc:9180 http@api:8080"; got != want {
		t.Errorf("cloud routes orc8r as %q, want %q", got, want)
	}
	if fog := mustBuild(t, repo, "fog"); len(fog.Objects) != 0 {
		t.Errorf("fog's build changed: %d objects", len(fog.Objects))
	}
}

// TestMetroAfterEachStep checks the metro fleet's particulars: the dependency stub of
// step 1, the routes of step 2 on the destination's own entry points, and the Namespace
// that cleanup must keep because the base carried it.
func TestMetroAfterEachStep(t *testing.T) {
	repo := metroFleet.load(t)
	m := metroFleet.migration(t, repo)
	core, _ := repo.Config().Cluster("core")
	west, _ := repo.Config().Cluster("metro-west")

	runSteps(t, repo, m, step.Deploy)
	wb := mustBuild(t, repo, "metro-west")
	stub := findService(t, wb, "subscribers", "subscriberdb")
	if !stub.IsExternalName() || stub.ExternalName != core.Ingress.DNSName || portList(stub) != "grpc/9180/" {
		t.Errorf("metro-west stub for subscriberdb: %s to %q, ports %s; want ExternalName to %s, grpc/9180",
			stub.Type, stub.ExternalName, portList(stub), core.Ingress.DNSName)
	}
	for _, ns := range []string{"sessions", "subscribers"} {
		if !wb.HasNamespace(ns) {
			t.Errorf("metro-west has no Namespace %s after step 1", ns)
		}
	}
	if !repo.Exists("overlays/metro/west/gitmig/externalname-subscriberdb.yaml") || !repo.Exists("overlays/metro/west/gitmig/namespace-subscribers.yaml") {
		t.Error("step 1 did not write the stub and its Namespace under overlays/metro/west/gitmig/")
	}
	if repo.Exists("overlays/metro/west/gitmig/namespace-sessions.yaml") {
		t.Error("step 1 wrote Namespace sessions, which the base already carries")
	}
	kust := readKustomization(t, repo, "overlays/metro/west")
	if want := []string{"site.yaml", "../../../base/sessiond", "gitmig/externalname-subscriberdb.yaml", "gitmig/namespace-subscribers.yaml"}; !slices.Equal(kust.Resources(), want) {
		t.Errorf("metro-west resources = %q, want %q", kust.Resources(), want)
	}

	runSteps(t, repo, m, step.Route)
	wb = mustBuild(t, repo, "metro-west")
	names := append(fleet.InClusterHosts("sessiond", "sessions"), west.Ingress.DNSName)
	if got, want := routeSummary(t, wb, "sessions", "sessiond", names), "h2c@grpc:50051 http@alt-http:8081 tcp@diameter:3868 udp@radius-acct:1813"; got != want {
		t.Errorf("metro-west routes sessiond as %q, want %q", got, want)
	}
	dns, ok := wb.Find("externaldns.k8s.io", "DNSEndpoint", "sessions", "sessiond")
	if !ok {
		t.Fatal("gitops.dns is externaldns, but metro-west has no DNSEndpoint sessiond")
	}
	raw, err := dns.Raw()
	if err != nil {
		t.Fatal(err)
	}
	endpoint := raw["spec"].(map[string]any)["endpoints"].([]any)[0].(map[string]any)
	if endpoint["dnsName"] != west.Ingress.DNSName || fmt.Sprint(endpoint["targets"]) != "["+west.Ingress.Address+"]" {
		t.Errorf("DNSEndpoint endpoint = %v, want %s → %s", endpoint, west.Ingress.DNSName, west.Ingress.Address)
	}

	runSteps(t, repo, m, step.Flip, step.Cleanup)
	eb := mustBuild(t, repo, "metro-east")
	svc := findService(t, eb, "sessions", "sessiond")
	if !svc.IsExternalName() || svc.ExternalName != west.Ingress.DNSName ||
		svc.ClusterIP != "" || len(svc.Selector) != 0 {
		t.Errorf("metro-east Service sessiond: %s to %q, clusterIP %q, selector %v", svc.Type, svc.ExternalName, svc.ClusterIP, svc.Selector)
	}
	if got := portList(svc); got != "grpc/50051/TCP http/8081/TCP gx/3868/TCP radius-acct/1813/UDP" {
		t.Errorf("metro-east Service sessiond ports = %s", got)
	}
	if _, ok := eb.Deployment("sessions", "sessiond"); ok {
		t.Error("metro-east still runs sessiond")
	}
	// The base carried Namespace sessions; without a copy, pruning would delete the
	// ExternalName Service with it.
	if !eb.HasNamespace("sessions") || !repo.Exists("clusters/metro-east/gitmig/namespace-sessions.yaml") {
		t.Error("cleanup dropped Namespace sessions from metro-east")
	}
	if s := findService(t, eb, "subscribers", "subscriberdb"); s.ExternalName != core.Ingress.DNSName {
		t.Errorf("metro-east's hand-written subscriberdb ExternalName changed: %q", s.ExternalName)
	}
	if _, ok := eb.Deployment("ran", "mme"); !ok {
		t.Error("metro-east lost Deployment mme")
	}
}

// TestStepRefusals runs some steps, then one in the wrong state, and expects the step
// to refuse with a message naming what it found.
func TestStepRefusals(t *testing.T) {
	tests := []struct {
		name  string
		fleet fleetCase
		// to overrides the fleet's destination.
		to     string
		before []step.Step
		// prepare edits the tree before the steps.
		prepare []tree.Edit
		// config edits gitmig.yaml before the steps.
		config func(*config.Config)
		step   step.Step
		want   string
	}{
		{
			name: "route before deploy", fleet: exampleFleet,
			step: step.Route,
			want: "step 2-route: expects orc8r to run in cloud (step 1), but its build has no Deployment orc8r-ns/orc8r",
		},
		{
			name: "deploy twice", fleet: exampleFleet,
			before: []step.Step{step.Deploy}, step: step.Deploy,
			want: "step 1-deploy: cloud already runs orc8r (clusters/cloud/kustomization.yaml lists ../../base/orc8r or its build has Deployment orc8r-ns/orc8r): step 1 is done",
		},
		{
			name: "route twice", fleet: exampleFleet,
			before: []step.Step{step.Deploy, step.Route}, step: step.Route,
			want: "step 2-route: clusters/cloud/kustomization.yaml already lists gitmig/ingressroute-orc8r.yaml: step 2 is done",
		},
		{
			name: "flip when the destination has no route", fleet: exampleFleet,
			before: []step.Step{step.Deploy}, step: step.Flip,
			want: "step 3-flip: expects cloud to route orc8r (step 2), but its build has no traefik.io route to Service orc8r-ns/orc8r",
		},
		{
			name: "flip twice", fleet: exampleFleet,
			before: []step.Step{step.Deploy, step.Route, step.Flip}, step: step.Flip,
			want: "step 3-flip: clusters/edge/kustomization.yaml already patches the Service with gitmig/flip-orc8r.yaml: step 3 is done",
		},
		{
			name: "cleanup before flip", fleet: exampleFleet,
			before: []step.Step{step.Deploy, step.Route}, step: step.Cleanup,
			want: "step 4-cleanup: expects clusters/edge/kustomization.yaml to patch Service orc8r with gitmig/flip-orc8r.yaml (step 3), but it does not",
		},
		{
			name: "cleanup twice", fleet: exampleFleet,
			before: step.All(), step: step.Cleanup,
			want: "step 4-cleanup: clusters/edge/kustomization.yaml no longer lists ../../base/orc8r and keeps gitmig/externalname-orc8r.yaml: step 4 is done",
		},
		{
			name: "flip after cleanup", fleet: exampleFleet,
			before: step.All(), step: step.Flip,
			want: "step 3-flip: expects clusters/edge/kustomization.yaml to list ../../base/orc8r, but it does not: edge no longer runs orc8r from its base",
		},
		{
			name: "deploy when the source does not run the service", fleet: exampleFleet,
			before: step.All(), step: step.Deploy,
			want: "step 1-deploy: expects orc8r to run in edge, but edge's build has no Deployment orc8r-ns/orc8r",
		},
		{
			name: "deploy where a hand-written Service of the name exists", fleet: exampleFleet,
			prepare: []tree.Edit{
				{Path: "clusters/cloud/kustomization.yaml", Content: []byte("resources: [orc8r.yaml]\n")},
				{Path: "clusters/cloud/orc8r.yaml", Content: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: orc8r, namespace: orc8r-ns}\nspec: {type: ExternalName, externalName: edge.testnetwork.internal}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: orc8r-ns}\n")},
			},
			step: step.Deploy,
			want: "step 1-deploy: cloud already defines Service orc8r-ns/orc8r outside gitmig/ (not from ../../base/orc8r); remove it before moving orc8r here",
		},
		{
			name: "deploy where the destination cannot reach a dependency", fleet: metroFleet,
			// The core no longer routes subscriberdb, so only the core can call it.
			prepare: []tree.Edit{{Path: "clusters/core/kustomization.yaml", Content: []byte("resources: [namespaces.yaml, ../../base/subscriberdb]\n")}},
			step:    step.Deploy,
			want:    "step 1-deploy: sessiond calls subscriberdb, which metro-west cannot reach: no cluster both runs subscriberdb and routes it with a traefik.io route (running in: core)",
		},
		{
			name: "deploy where the base's Namespace is defined already", fleet: metroFleet,
			prepare: []tree.Edit{
				{Path: "overlays/metro/west/kustomization.yaml", Content: []byte("resources: [site.yaml, sessions.yaml]\n")},
				{Path: "overlays/metro/west/sessions.yaml", Content: []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: sessions}\n")},
			},
			step: step.Deploy,
			want: "step 1-deploy: base/sessiond carries Namespace sessions and metro-west already defines it elsewhere; a build would have it twice",
		},
		{
			name: "route to a destination without an entry point for a port", fleet: metroFleet,
			to: "aggregation", before: []step.Step{step.Deploy}, step: step.Route,
			want: "step 2-route: aggregation's Traefik cannot carry sessiond's port grpc (h2c): no entry point on port 50051 (entry points: web:80/http, websecure:443/http)",
		},
		{
			name: "route an h2c port where the entry point on its port is a tls one", fleet: metroFleet,
			config: func(c *config.Config) {
				west := &c.Clusters[slices.IndexFunc(c.Clusters, func(cl config.Cluster) bool { return cl.Name == "metro-west" })]
				west.Ingress.EntryPoints["grpc"] = config.EntryPoint{Port: 50051, Protocol: "tls"}
			},
			before: []step.Step{step.Deploy}, step: step.Route,
			want: "step 2-route: metro-west's Traefik cannot carry sessiond's port grpc (h2c): entry point grpc on port 50051 is tls, not http as the port's h2c route needs (entry points: alt-http:8081/http, diameter:3868/tcp, grpc:50051/tls, http:80/http, radius-acct:1813/udp)",
		},
		{
			name: "route a TLS port where the entry point on its port is an http one", fleet: exampleFleet,
			config: func(c *config.Config) {
				cloud := &c.Clusters[slices.IndexFunc(c.Clusters, func(cl config.Cluster) bool { return cl.Name == "cloud" })]
				cloud.Ingress.EntryPoints["websecure"] = config.EntryPoint{Port: 443, Protocol: "http"}
			},
			before: []step.Step{step.Deploy}, step: step.Route,
			want: "step 2-route: cloud's Traefik cannot carry orc8r's port controller (tls): entry point websecure on port 443 is http, not tls as the port's tls route needs (entry points: api:8080/http, rpc:9180/http, web:80/http, websecure:443/http)",
		},
		{
			name: "route a TCP port to an entry point another service holds", fleet: metroFleet,
			prepare: []tree.Edit{
				{Path: "overlays/metro/west/kustomization.yaml", Content: []byte("resources: [site.yaml, pcrf.yaml]\n")},
				{Path: "overlays/metro/west/pcrf.yaml", Content: []byte("apiVersion: traefik.io/v1alpha1\nkind: IngressRouteTCP\nmetadata: {name: pcrf, namespace: kube-public}\n" +
					"spec:\n  entryPoints: [diameter]\n  routes: [{match: HostSNI(`*`), services: [{name: pcrf, port: 3868}]}]\n")},
			},
			before: []step.Step{step.Deploy}, step: step.Route,
			want: "step 2-route: sessiond's tcp route would take every connection of metro-west's entry point diameter, which already routes kube-public/pcrf",
		},
		{
			name: "route an SCTP port", fleet: exampleFleet,
			prepare: []tree.Edit{{Path: "base/orc8r/service.yaml", Content: []byte("apiVersion: v1\nkind: Service\nmetadata: {name: orc8r, namespace: orc8r-ns}\nspec:\n  selector: {app.kubernetes.io/name: orc8r}\n  ports: [{name: s1ap, port: 36412, protocol: SCTP}]\n")}},
			before:  []step.Step{step.Deploy}, step: step.Route,
			want: "step 2-route: orc8r's port s1ap: protocol SCTP: Traefik carries TCP and UDP only",
		},
		{
			name: "flip twice on a non-default overlay path's fleet", fleet: metroFleet,
			before: []step.Step{step.Deploy, step.Route, step.Flip}, step: step.Flip,
			want: "step 3-flip: clusters/metro-east/kustomization.yaml already patches the Service with gitmig/flip-sessiond.yaml: step 3 is done",
		},
		{
			name: "route twice on the non-default overlay path", fleet: metroFleet,
			before: []step.Step{step.Deploy, step.Route}, step: step.Route,
			want: "step 2-route: overlays/metro/west/kustomization.yaml already lists gitmig/ingressroute-sessiond.yaml: step 2 is done",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := tt.fleet.load(t)
			if err := repo.Apply(tt.prepare); err != nil {
				t.Fatal(err)
			}
			if tt.config != nil {
				tt.config(repo.Config())
			}
			to := tt.fleet.to
			if tt.to != "" {
				to = tt.to
			}
			m, err := NewMigration(repo.Config(), tt.fleet.id, tt.fleet.service, tt.fleet.from, to)
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, repo, m, tt.before...)
			change, err := repo.Render(m, tt.step)
			if err == nil {
				t.Fatalf("step %s accepted the tree, editing %d files", tt.step, len(change.Edits))
			}
			var state *StateError
			if !errors.As(err, &state) || state.Step != tt.step {
				t.Errorf("error is %T (%v), want a *StateError of step %s", err, err, tt.step)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n  %v\nwant:\n  %s", err, tt.want)
			}
		})
	}
}

func TestRenderRejectsStepFive(t *testing.T) {
	repo := exampleFleet.load(t)
	_, err := repo.Render(exampleFleet.migration(t, repo), step.Step(5))
	if err == nil || err.Error() != "step 5: there are 4 steps, 1 to 4" {
		t.Errorf("Render(step 5) = %v", err)
	}
}

// TestRenderLeavesTreeAlone checks that rendering is pure: the model it renders on is
// unchanged, the change's After model has the edits, and only the edited overlay was
// built again.
func TestRenderLeavesTreeAlone(t *testing.T) {
	repo := exampleFleet.load(t)
	m := exampleFleet.migration(t, repo)
	before := buildYAML(t, repo, "cloud")
	change, err := repo.Render(m, step.Deploy)
	if err != nil {
		t.Fatal(err)
	}
	if after := buildYAML(t, repo, "cloud"); !bytes.Equal(before, after) {
		t.Error("Render changed the tree")
	}
	if _, ok := change.After.Build("cloud").Deployment("orc8r-ns", "orc8r"); !ok {
		t.Error("the change's After model lacks the edits")
	}
	if _, ok := mustBuild(t, repo, "cloud").Deployment("orc8r-ns", "orc8r"); ok {
		t.Error("Render changed the model it rendered on")
	}
	for _, cluster := range []string{"edge", "fog"} {
		if change.After.Build(cluster) != change.Before.Build(cluster) {
			t.Errorf("step 1 edits cloud only, but %s was built again", cluster)
		}
	}
	// Rendering again gives the same edits.
	again, err := repo.Render(m, step.Deploy)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again.Edits) != fmt.Sprint(change.Edits) {
		t.Error("two renders of the same step differ")
	}
}

func findService(t *testing.T, b *fleet.Build, namespace, name string) *fleet.Service {
	t.Helper()
	o, ok := b.Service(namespace, name)
	if !ok {
		t.Fatalf("%s has no Service %s/%s", b.Dir, namespace, name)
	}
	return o.Service
}

// portList spells a Service's ports as name/port/protocol, space separated.
func portList(s *fleet.Service) string {
	var parts []string
	for _, p := range s.Ports {
		parts = append(parts, fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol))
	}
	return strings.Join(parts, " ")
}

// routeSummary lists, as kind@entryPoint:port, the traefik.io/v1alpha1 routes of a
// build that forward to a port of Service namespace/name, by what they carry: http or
// h2c for IngressRoutes matching every one of names by Host, tls for IngressRouteTCPs
// passing TLS through on every one of names by SNI, tcp for IngressRouteTCP
// HostSNI(`*`) and udp for IngressRouteUDPs; any other route is "other".
func routeSummary(t *testing.T, b *fleet.Build, namespace, name string, names []string) string {
	t.Helper()
	matchesAll := func(got []string) bool {
		for _, n := range names {
			if !slices.Contains(got, n) {
				return false
			}
		}
		return true
	}
	var parts []string
	for _, o := range b.Objects {
		if o.IngressRoute == nil || o.APIVersion != "traefik.io/v1alpha1" {
			continue
		}
		tls := o.IngressRoute.TLS
		for _, route := range o.IngressRoute.Routes {
			for _, rs := range route.Services {
				if rs.Name != name || rs.NamespaceIn(o) != namespace {
					continue
				}
				kind := "other"
				switch {
				case o.Kind == "IngressRoute" && matchesAll(fleet.Hosts(route.Match)) && rs.Scheme == "":
					kind = "http"
				case o.Kind == "IngressRoute" && matchesAll(fleet.Hosts(route.Match)) && rs.Scheme == "h2c":
					kind = "h2c"
				case o.Kind == "IngressRouteTCP" && tls != nil && tls.Passthrough && matchesAll(fleet.HostSNIs(route.Match)):
					kind = "tls"
				case o.Kind == "IngressRouteTCP" && tls == nil && route.Match == "HostSNI(`*`)":
					kind = "tcp"
				case o.Kind == "IngressRouteUDP":
					kind = "udp"
				}
				parts = append(parts, fmt.Sprintf("%s@%s:%d", kind, strings.Join(o.IngressRoute.EntryPoints, ","), rs.PortNumber))
			}
		}
	}
	return strings.Join(parts, " ")
}

func readKustomization(t *testing.T, repo *testRepo, dir string) *Kustomization {
	t.Helper()
	k, err := ReadKustomization(repo.model.Tree, dir)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestMoveBack takes each fleet's service to its destination and back again. The way
// back starts from gitmig's own ExternalName stub in the old source, which step 1
// replaces by a hold patch until step 2 routes to the new pods; every overlay builds
// and Verify finds nothing after each of the eight steps.
func TestMoveBack(t *testing.T) {
	for _, f := range []fleetCase{exampleFleet, metroFleet} {
		t.Run(f.name, func(t *testing.T) {
			repo := f.load(t)
			there := f.migration(t, repo)
			back, err := NewMigration(repo.Config(), f.service+"-"+f.to+"-to-"+f.from+"-20261128-1000", f.service, f.to, f.from)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []Migration{there, back} {
				for _, s := range step.All() {
					runSteps(t, repo, m, s)
					if findings := verifyRepo(t, repo); len(findings) != 0 {
						t.Errorf("%s, after step %s, Verify: %v", m.ID, s, findings)
					}
				}
			}
			svc, _ := repo.Config().Service(f.service)
			src, dst := mustBuild(t, repo, f.from), mustBuild(t, repo, f.to)
			if _, ok := src.Deployment(svc.Namespace, svc.Name); !ok {
				t.Errorf("%s does not run %s again", f.from, f.service)
			}
			if s := findService(t, src, svc.Namespace, svc.Name); s.IsExternalName() {
				t.Errorf("%s's Service %s is still an ExternalName to %s", f.from, f.service, s.ExternalName)
			}
			if s := findService(t, dst, svc.Namespace, svc.Name); s.ExternalName != mustCluster(t, repo, f.from).Ingress.DNSName {
				t.Errorf("%s's Service %s: ExternalName to %q, want %s's ingress", f.to, f.service, s.ExternalName, f.from)
			}
			overlay := mustCluster(t, repo, f.from).Path
			for _, gone := range []string{"gitmig/flip-" + f.service + ".yaml", "gitmig/externalname-" + f.service + ".yaml"} {
				if repo.Exists(path.Join(overlay, gone)) {
					t.Errorf("%s/%s is left behind", overlay, gone)
				}
			}
		})
	}
}

func mustCluster(t *testing.T, repo *testRepo, name string) config.Cluster {
	t.Helper()
	cl, ok := repo.Config().Cluster(name)
	if !ok {
		t.Fatalf("no cluster %s", name)
	}
	return cl
}

// TestMoveThereBackAndThereAgain moves the example's orc8r edge→cloud, back, and to
// cloud again. Cleanup of the way back keeps step 2's gitmig/ingressroute-orc8r.yaml
// in cloud (older ExternalNames may still lead there); the third move's step 2
// rewrites it for the new migration instead of taking it for its own work.
func TestMoveThereBackAndThereAgain(t *testing.T) {
	repo := exampleFleet.load(t)
	for i, m := range []Migration{
		exampleFleet.migration(t, repo),
		mustMigration(t, repo, "orc8r-cloud-to-edge-20261128-1000", "orc8r", "cloud", "edge"),
		mustMigration(t, repo, "orc8r-edge-to-cloud-20261129-1000", "orc8r", "edge", "cloud"),
	} {
		for _, s := range step.All() {
			runSteps(t, repo, m, s)
			if findings := verifyRepo(t, repo); len(findings) != 0 {
				t.Errorf("move %d, after step %s, Verify: %v", i+1, s, findings)
			}
		}
	}
}

func mustMigration(t *testing.T, repo *testRepo, id, service, from, to string) Migration {
	t.Helper()
	m, err := NewMigration(repo.Config(), id, service, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An overlay that lists its bases under the deprecated bases field, which kustomize
// still builds, migrates through all four steps like any other.
func TestDeprecatedBasesField(t *testing.T) {
	repo := exampleFleet.load(t)
	if err := repo.Apply([]tree.Edit{{Path: "clusters/edge/kustomization.yaml", Content: []byte("resources:\n  - namespaces.yaml\nbases:\n  - ../../base/agw\n  - ../../base/orc8r\n")}}); err != nil {
		t.Fatal(err)
	}
	m := exampleFleet.migration(t, repo)
	for _, s := range step.All() {
		runSteps(t, repo, m, s)
		if findings := verifyRepo(t, repo); len(findings) != 0 {
			t.Errorf("after step %s, Verify: %v", s, findings)
		}
	}
	kust := readKustomization(t, repo, "clusters/edge")
	if kust.HasResource("../../base/orc8r") {
		t.Errorf("cleanup left orc8r's base in edge: %q", kust.Resources())
	}
	if _, ok := mustBuild(t, repo, "edge").Deployment("agw-ns", "agw"); !ok {
		t.Error("edge lost agw, listed under bases")
	}
}
