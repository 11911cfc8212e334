package render

import (
	"context"
	"errors"
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

// loadWith builds a fleet with extra files and extra services in its gitmig.yaml, as a
// team adds a workload to its repository.
func (f fleetCase) loadWith(t *testing.T, edits []tree.Edit, services ...workload) *testRepo {
	t.Helper()
	cfg, err := config.Load(filepath.Join(f.dir, "gitmig.yaml"), f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range services {
		for _, dep := range extra.Calls {
			i := slices.IndexFunc(cfg.Services, func(s config.Service) bool { return s.Name == dep })
			if i < 0 {
				t.Fatalf("no service %s to call", dep)
			}
			cfg.Services[i].Clients = append(cfg.Services[i].Clients, extra.Name)
		}
		cfg.Services = append(cfg.Services, extra.Service)
	}
	disk, err := tree.Disk(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), tree.With(disk, edits), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testRepo{model: model}
}

// workload is a service to add to a fleet, and the services it calls.
type workload struct {
	config.Service
	Calls []string
}

// clientOnlyBase is the base of a workload with a Deployment and no Service, which
// carries its own Namespace.
func clientOnlyBase(dir, name, namespace string) []tree.Edit {
	return []tree.Edit{
		{Path: dir + "/kustomization.yaml", Content: []byte("resources: [namespace.yaml, deployment.yaml]\n")},
		{Path: dir + "/namespace.yaml", Content: []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + namespace + "\n")},
		{Path: dir + "/deployment.yaml", Content: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + namespace + `
spec:
  replicas: 1
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
        - name: ` + name + `
          image: registry.example.net/` + name + `:1.0
`)},
	}
}

// pathsOf is verify.Paths of a service, spelled out.
func pathsOf(t *testing.T, repo *testRepo, service string) string {
	t.Helper()
	svc, ok := repo.Config().Service(service)
	if !ok {
		t.Fatalf("no service %s", service)
	}
	var lines []string
	for _, p := range verify.Paths(repo.model, svc) {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// The chain: orc8r moves edge → fog, then fog → cloud. Without step 3
// re-pointing edge's ExternalName, agw in edge would reach cloud through fog's Traefik
// and fog's ExternalName, over 35ms against orc8r's maxLatencyMs of 25. With it, agw
// reaches cloud in one hop, and cleanup removes fog's routes, which nothing leads to.
func TestSecondMoveLeavesNoChain(t *testing.T) {
	repo := exampleFleet.load(t)
	first := mustMigration(t, repo, "orc8r-edge-to-fog-20261127-0900", "orc8r", "edge", "fog")
	second := mustMigration(t, repo, "orc8r-fog-to-cloud-20261128-0900", "orc8r", "fog", "cloud")
	runSteps(t, repo, first, step.All()...)
	if got, want := pathsOf(t, repo, "orc8r"), "agw@edge → fog (1 hop, 5ms)"; got != want {
		t.Fatalf("after the first move: %s, want %s", got, want)
	}
	if !repo.Exists("clusters/fog/gitmig/ingressroute-orc8r.yaml") {
		t.Fatal("the first move left fog without its routes")
	}
	for _, s := range step.All() {
		change, err := repo.Render(second, s)
		if err != nil {
			t.Fatalf("second move, step %s: %v", s, err)
		}
		wantRepointed := []string(nil)
		if s == step.Flip {
			wantRepointed = []string{"edge"}
		}
		if !slices.Equal(change.Repointed, wantRepointed) {
			t.Errorf("step %s re-points %v, want %v", s, change.Repointed, wantRepointed)
		}
		repo.model = change.After
		if findings := verifyRepo(t, repo); len(findings) != 0 {
			t.Errorf("after step %s, Verify: %v", s, findings)
		}
		if s == step.Flip {
			// From the flip on, agw goes straight to cloud.
			if got, want := pathsOf(t, repo, "orc8r"), "agw@edge → cloud (1 hop, 20ms)"; got != want {
				t.Errorf("after step 3: %s, want %s", got, want)
			}
		}
	}
	if got, want := pathsOf(t, repo, "orc8r"), "agw@edge → cloud (1 hop, 20ms)"; got != want {
		t.Errorf("after the second move: %s, want %s", got, want)
	}
	cloud := mustCluster(t, repo, "cloud").Ingress.DNSName
	for _, cluster := range []string{"edge", "fog"} {
		if s := findService(t, mustBuild(t, repo, cluster), "orc8r-ns", "orc8r"); s.ExternalName != cloud {
			t.Errorf("%s's orc8r: ExternalName %q, want %s", cluster, s.ExternalName, cloud)
		}
	}
	for _, gone := range []string{"clusters/fog/gitmig/ingressroute-orc8r.yaml", "clusters/fog/gitmig/flip-orc8r.yaml"} {
		if repo.Exists(gone) {
			t.Errorf("%s is left behind", gone)
		}
	}
	if routes := mustBuild(t, repo, "fog").RoutesTo("orc8r-ns", "orc8r"); len(routes) != 0 {
		t.Errorf("fog still routes orc8r: %d routes", len(routes))
	}
	kust := readKustomization(t, repo, "clusters/fog")
	if kust.HasResource("gitmig/ingressroute-orc8r.yaml") || !kust.HasResource("gitmig/externalname-orc8r.yaml") {
		t.Errorf("fog's resources: %q; want its ExternalName and no route", kust.Resources())
	}
}

// A hand-written ExternalName that leads to the source is not gitmig's to re-point:
// the source keeps the routes it leads to, so its clients still arrive, and
// verify.Paths shows them the chain.
func TestSecondMoveKeepsRoutesAHandWrittenExternalNameNeeds(t *testing.T) {
	repo := exampleFleet.load(t)
	runSteps(t, repo, mustMigration(t, repo, "orc8r-edge-to-fog-20261127-0900", "orc8r", "edge", "fog"), step.All()...)
	// edge's operators replace gitmig's stub with their own, which still leads to fog.
	stub, err := repo.model.Tree.ReadFile("clusters/edge/gitmig/externalname-orc8r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kust := readKustomization(t, repo, "clusters/edge")
	kust.RemoveResource("gitmig/externalname-orc8r.yaml")
	if err := kust.AddResource("orc8r-alias.yaml"); err != nil {
		t.Fatal(err)
	}
	edit, err := kust.Edit()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Apply([]tree.Edit{edit, {Path: "clusters/edge/gitmig/externalname-orc8r.yaml", Delete: true}, {Path: "clusters/edge/orc8r-alias.yaml", Content: stub}}); err != nil {
		t.Fatal(err)
	}
	second := mustMigration(t, repo, "orc8r-fog-to-cloud-20261128-0900", "orc8r", "fog", "cloud")
	for _, s := range step.All() {
		change, err := repo.Render(second, s)
		if err != nil {
			t.Fatalf("step %s: %v", s, err)
		}
		if len(change.Repointed) != 0 {
			t.Errorf("step %s re-points %v, which are not gitmig's", s, change.Repointed)
		}
		repo.model = change.After
		if findings := verifyRepo(t, repo); len(findings) != 0 {
			t.Errorf("after step %s, Verify: %v", s, findings)
		}
	}
	if !repo.Exists("clusters/fog/gitmig/ingressroute-orc8r.yaml") {
		t.Error("cleanup removed fog's routes, which edge's hand-written ExternalName still leads to")
	}
	if got, want := pathsOf(t, repo, "orc8r"), "agw@edge → fog → cloud (2 hops, 20ms)"; got != want {
		t.Errorf("paths: %s, want %s", got, want)
	}
}

// Moving sessiond to metro-west and back: cleanup of the way back removes from west
// what only sessiond needed there: the routes and DNSEndpoint step 2 wrote (east's
// ExternalName to west went with step 1 of the way back), the ExternalName step 1
// wrote for subscriberdb, which nothing left in west calls, and the Namespace step 1
// wrote for it. West keeps sessiond's own ExternalName and its Namespace.
func TestMoveBackRemovesWhatNothingNeeds(t *testing.T) {
	repo := metroFleet.load(t)
	there := metroFleet.migration(t, repo)
	back := mustMigration(t, repo, "sessiond-metro-west-to-metro-east-20261128-1000", "sessiond", "metro-west", "metro-east")
	runSteps(t, repo, there, step.All()...)
	west := "overlays/metro/west/gitmig/"
	for _, f := range []string{"ingressroute-sessiond.yaml", "dnsendpoint-sessiond.yaml", "externalname-subscriberdb.yaml", "namespace-subscribers.yaml"} {
		if !repo.Exists(west + f) {
			t.Fatalf("the first move wrote no %s%s", west, f)
		}
	}
	runSteps(t, repo, back, step.Deploy, step.Route, step.Flip)
	change, err := repo.Render(back, step.Cleanup)
	if err != nil {
		t.Fatal(err)
	}
	repo.model = change.After
	if findings := verifyRepo(t, repo); len(findings) != 0 {
		t.Errorf("after the way back, Verify: %v", findings)
	}
	var deleted []string
	for _, e := range change.Edits {
		if e.Delete {
			deleted = append(deleted, strings.TrimPrefix(e.Path, west))
		}
	}
	want := []string{"dnsendpoint-sessiond.yaml", "externalname-subscriberdb.yaml", "flip-sessiond.yaml", "ingressroute-sessiond.yaml", "namespace-subscribers.yaml"}
	if !slices.Equal(deleted, want) {
		t.Errorf("cleanup deletes %q, want %q", deleted, want)
	}
	b := mustBuild(t, repo, "metro-west")
	if _, ok := b.Service("subscribers", "subscriberdb"); ok || b.HasNamespace("subscribers") {
		t.Error("west keeps subscriberdb's ExternalName or Namespace, which nothing there needs")
	}
	if s := findService(t, b, "sessions", "sessiond"); s.ExternalName != "east.metro.example.net" || !b.HasNamespace("sessions") {
		t.Errorf("west's sessiond: ExternalName %q, Namespace sessions %v; want east's ingress, in its Namespace", s.ExternalName, b.HasNamespace("sessions"))
	}
	if got, want := pathsOf(t, repo, "sessiond"), "mme@metro-east (local, 0ms)"; got != want {
		t.Errorf("paths: %s, want %s", got, want)
	}
}

// probe is a client-only workload on the metro fleet: a Deployment with no Service,
// in a Namespace its base carries, that calls subscriberdb.
func metroWithProbe(t *testing.T) *testRepo {
	t.Helper()
	edits := clientOnlyBase("base/probe", "probe", "probes")
	edits = append(edits, tree.Edit{Path: "clusters/metro-east/kustomization.yaml", Content: []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- namespaces.yaml
- ../../base/mme
- ../../base/sessiond   # brings Namespace sessions
- subscriberdb.yaml
- ../../base/probe
labels:
- pairs:
    metro.example.net/site: east
`)})
	return metroFleet.loadWith(t, edits, workload{
		Service: config.Service{Name: "probe", Namespace: "probes", Base: "base/probe", Tiers: []string{"edge"}},
		Calls:   []string{"subscriberdb"},
	})
}

// A client-only workload is a client like any other: verify checks that what it calls
// resolves where it runs, and moving it takes the steps that apply to it. Step 1
// deploys it with an ExternalName for subscriberdb; steps 2 and 3 have nothing to
// route or flip and edit nothing; step 4 removes it from the source, leaving no
// ExternalName and no Namespace behind.
func TestClientOnlyWorkloadMoves(t *testing.T) {
	repo := metroWithProbe(t)
	if findings := verifyRepo(t, repo); len(findings) != 0 {
		t.Fatalf("before the move, Verify: %v", findings)
	}
	probe, _ := repo.Config().Service("probe")
	if only, err := repo.model.ClientOnly(probe); err != nil || !only {
		t.Fatalf("ClientOnly(probe) = %v, %v; want true", only, err)
	}
	if ports, err := repo.model.Ports(probe); err != nil || len(ports) != 0 {
		t.Fatalf("Ports(probe) = %v, %v; want none and no error", ports, err)
	}
	m := mustMigration(t, repo, "probe-metro-east-to-metro-west-20261127-0900", "probe", "metro-east", "metro-west")
	for _, s := range step.All() {
		change, err := repo.Render(m, s)
		if err != nil {
			t.Fatalf("step %s: %v", s, err)
		}
		if !change.ClientOnly {
			t.Errorf("step %s: change not marked client-only", s)
		}
		if (s == step.Route || s == step.Flip) != (len(change.Edits) == 0) {
			t.Errorf("step %s edits %d files", s, len(change.Edits))
		}
		repo.model = change.After
		if findings := verifyRepo(t, repo); len(findings) != 0 {
			t.Errorf("after step %s, Verify: %v", s, findings)
		}
	}
	west, east := mustBuild(t, repo, "metro-west"), mustBuild(t, repo, "metro-east")
	if _, ok := west.Deployment("probes", "probe"); !ok {
		t.Error("metro-west does not run probe")
	}
	if s := findService(t, west, "subscribers", "subscriberdb"); s.ExternalName != "core.metro.example.net" {
		t.Errorf("west's subscriberdb: ExternalName %q, want the core's ingress", s.ExternalName)
	}
	if _, ok := east.Deployment("probes", "probe"); ok {
		t.Error("metro-east still runs probe")
	}
	if east.HasNamespace("probes") || inNamespace(east, "probes") {
		t.Error("metro-east keeps Namespace probes or objects in it, which nothing needs")
	}
	if _, ok := west.Service("probes", "probe"); ok {
		t.Error("a Service probe appeared")
	}
	if got, want := pathsOf(t, repo, "subscriberdb"), "probe@metro-west → core (1 hop, 18ms)\nsessiond@metro-east → core (1 hop, 18ms)"; got != want {
		t.Errorf("subscriberdb's clients: %s, want %s", got, want)
	}
	if _, err := repo.Render(m, step.Cleanup); err == nil || !strings.Contains(err.Error(), "step 4 is done") {
		t.Errorf("cleanup twice: %v, want step 4 is done", err)
	}
}

// A client-only workload that cannot move says why, and nothing fails: in the example,
// no cluster routes orc8r, so cloud could not reach what loadgen calls.
func TestClientOnlyWorkloadNotMovable(t *testing.T) {
	edits := clientOnlyBase("base/loadgen", "loadgen", "loadgen-ns")
	edits = append(edits, tree.Edit{Path: "clusters/edge/kustomization.yaml", Content: []byte("resources:\n  - namespaces.yaml\n  - ../../base/agw\n  - ../../base/orc8r\n  - ../../base/loadgen\n")})
	repo := exampleFleet.loadWith(t, edits, workload{
		Service: config.Service{Name: "loadgen", Namespace: "loadgen-ns", Base: "base/loadgen"},
		Calls:   []string{"orc8r"},
	})
	if findings := verifyRepo(t, repo); len(findings) != 0 {
		t.Fatalf("Verify: %v", findings)
	}
	m := mustMigration(t, repo, "loadgen-edge-to-cloud-20261127-0900", "loadgen", "edge", "cloud")
	_, err := repo.Render(m, step.Deploy)
	var cannot *StateError
	if !errors.As(err, &cannot) || cannot.Step != step.Deploy || !strings.Contains(err.Error(), "loadgen calls orc8r, which cloud cannot reach") {
		t.Fatalf("rehearsal: %v; want step 1 refused because cloud cannot reach orc8r", err)
	}
	if !slices.Contains(repo.model.Running(config.Service{Name: "loadgen", Namespace: "loadgen-ns"}), "edge") {
		t.Error("loadgen does not run in edge")
	}
}
