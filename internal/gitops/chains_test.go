package gitops

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
	"github.com/gitmig/gitmig/internal/verify"
)

// askedGate passes what its inner gate passes, and notes which clusters it was asked
// about for each migration and step.
type askedGate struct {
	inner gate.Gate
	mu    sync.Mutex
	asked map[string][]string
}

func (g *askedGate) Check(ctx context.Context, req gate.Request) (gate.Result, error) {
	g.mu.Lock()
	if g.asked == nil {
		g.asked = map[string][]string{}
	}
	key := req.MigrationID + "/" + req.Step.String()
	if !slices.Contains(g.asked[key], req.Cluster) {
		g.asked[key] = append(g.asked[key], req.Cluster)
	}
	g.mu.Unlock()
	return g.inner.Check(ctx, req)
}

// clusters lists the clusters the gate was asked about for a step, in order.
func (g *askedGate) clusters(id string, s step.Step) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked[id+"/"+s.String()]
}

// driveID runs passes, merging what opens and moving the clock past the drain, until
// migration id is Completed.
func (f *testFleet) driveID(r *Reconciler, id string) {
	f.t.Helper()
	for pass := 0; pass < 40; pass++ {
		rep, err := r.Pass(context.Background())
		if err != nil {
			f.t.Fatalf("pass %d: %v", pass, err)
		}
		for _, m := range rep.Migrations {
			if m.ID != id {
				continue
			}
			if m.Status == string(record.Completed) {
				return
			}
			if record.Phase(m.Status).Ended() {
				f.t.Fatalf("%s ended %s: %+v", id, m.Status, m)
			}
		}
		f.mergeOpen()
		f.clock.Add(time.Minute + f.cfg.Policy.Drain.Duration)
	}
	f.t.Fatalf("%s did not complete in 40 passes", id)
}

// startByHand starts a migration with --force (the tests move services where policy
// would not, to make chains) and returns its id.
func (f *testFleet) startByHand(r *Reconciler, service, to string) string {
	f.t.Helper()
	rep, err := r.Start(context.Background(), StartRequest{Service: service, To: to, Reason: "by hand", Force: true})
	if err != nil {
		f.t.Fatalf("moving %s to %s: %v", service, to, err)
	}
	if len(rep.Migrations) != 1 {
		f.t.Fatalf("starting %s: %+v", service, rep.Migrations)
	}
	return rep.Migrations[0].ID
}

// headModel builds the overlays on the remote's main.
func (f *testFleet) headModel() *fleet.Model {
	f.t.Helper()
	m, err := fleet.NewBuilder(nil, 0).Load(context.Background(), headTree(f.t, f.remote), f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// paths is verify.Paths of a service on the remote's main, spelled out, after checking
// that verify finds nothing there.
func (f *testFleet) paths(model *fleet.Model, service string) string {
	f.t.Helper()
	if findings := verify.Verify(model); len(findings) != 0 {
		f.t.Errorf("Verify on main: %v", findings)
	}
	svc, _ := f.cfg.Service(service)
	var lines []string
	for _, p := range verify.Paths(model, svc) {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// prBody returns the body of the pull request titled title.
func (f *testFleet) prBody(title string) string {
	f.t.Helper()
	for _, pr := range f.prs() {
		if pr.Title == title {
			return pr.Body
		}
	}
	f.t.Fatalf("no pull request %q", title)
	return ""
}

// The chain, through the reconciler on a real remote: orc8r moves edge → fog,
// then fog → cloud. Step 3 of the second move re-points the ExternalName the first
// left in edge, so agw reaches cloud in one hop (20ms, within orc8r's maxLatencyMs of
// 25, where the chain through fog was 35ms); cleanup removes fog's routes, which
// nothing leads to any more. The pull requests say so.
func TestMovingTwiceLeavesClientsOneHopAway(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	asked := &askedGate{inner: r.Gate}
	r.Gate = asked
	first := f.startByHand(r, "orc8r", "fog")
	f.driveID(r, first)
	if got, want := f.paths(f.headModel(), "orc8r"), "agw@edge → fog (1 hop, 5ms)"; got != want {
		t.Fatalf("after the first move: %s, want %s", got, want)
	}
	second := f.startByHand(r, "orc8r", "cloud")
	f.driveID(r, second)

	model := f.headModel()
	if got, want := f.paths(model, "orc8r"), "agw@edge → cloud (1 hop, 20ms)"; got != want {
		t.Errorf("after the second move: %s, want %s", got, want)
	}
	for _, cluster := range []string{"edge", "fog"} {
		svc, ok := model.Build(cluster).Service("orc8r-ns", "orc8r")
		if !ok || svc.Service.ExternalName != "cloud.testnetwork.internal" {
			t.Errorf("%s's orc8r: %+v, want an ExternalName to cloud", cluster, svc)
		}
	}
	if routes := model.Build("fog").RoutesTo("orc8r-ns", "orc8r"); len(routes) != 0 {
		t.Errorf("fog still routes orc8r: %d routes", len(routes))
	}
	flip := f.prBody("gitmig: move orc8r fog→cloud [3/4 flip]")
	for _, want := range []string{
		"### What changes in fog, edge",
		"Earlier moves left ExternalNames to fog in edge; this step re-points them at cloud",
		"`edge: Service/orc8r-ns/orc8r` | changed",
		"| agw | edge | edge → cloud | 1 hop | 20ms |",
	} {
		if !strings.Contains(flip, want) {
			t.Errorf("step 3's pull request lacks %q:\n%s", want, flip)
		}
	}
	cleanup := f.prBody("gitmig: move orc8r fog→cloud [4/4 cleanup]")
	if !strings.Contains(cleanup, "`clusters/fog/gitmig/ingressroute-orc8r.yaml`") {
		t.Errorf("step 4's pull request does not remove fog's routes:\n%s", cleanup)
	}
	if n := len(f.prs()); n != 8 {
		t.Errorf("two moves made %d pull requests, want 8", n)
	}
	// Step 3's gate waits for edge, whose ExternalName it re-points, as for fog.
	if got := strings.Join(asked.clusters(second, step.Flip), ", "); got != "fog, edge" {
		t.Errorf("step 3's gate asked about %s, want fog, edge", got)
	}
	if got := strings.Join(asked.clusters(first, step.Flip), ", "); got != "edge" {
		t.Errorf("the first move's step 3 gate asked about %s, want edge", got)
	}
	f.git("fsck", "--strict")
}

// addLoadgen commits to main a client-only workload in edge, loadgen, a Deployment with
// no Service that calls orc8r, and lists it in gitmig.yaml, pinned so that the planner
// leaves it where it is.
func addLoadgen(f *testFleet) {
	f.t.Helper()
	cfgYAML := f.git("show", "main:gitmig.yaml")
	cfgYAML = strings.Replace(cfgYAML, "clients: [agw]", "clients: [agw, loadgen]", 1)
	cfgYAML = strings.Replace(cfgYAML, "\npolicy:", "\n  - {name: loadgen, namespace: loadgen-ns, base: base/loadgen, tiers: [edge, fog], pinned: true}\npolicy:", 1)
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		f.t.Fatal(err)
	}
	if _, ok := cfg.Service("loadgen"); !ok {
		f.t.Fatalf("gitmig.yaml without loadgen:\n%s", cfgYAML)
	}
	f.cfg = cfg
	newAttacker(f).commitFiles("origin/main", "main", "loadgen: a client of orc8r with no Service", map[string]string{
		"gitmig.yaml":                     cfgYAML,
		"base/loadgen/kustomization.yaml": "resources: [namespace.yaml, deployment.yaml]\n",
		"base/loadgen/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: loadgen-ns}\n",
		"base/loadgen/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: loadgen, namespace: loadgen-ns}
spec:
  selector: {matchLabels: {app: loadgen}}
  template:
    metadata: {labels: {app: loadgen}}
    spec:
      containers: [{name: loadgen, image: registry.example.net/loadgen:1.0}]
`,
		"clusters/edge/kustomization.yaml": f.git("show", "main:clusters/edge/kustomization.yaml") + "\n  - ../../base/loadgen\n",
	})
}

// A fleet with a client-only workload plans and reconciles like any other: the pass
// plans and completes the move of orc8r to cloud. Then loadgen moves to fog by hand:
// step 1 deploys it there with an ExternalName to orc8r in cloud; steps 2 and 3 route
// and flip nothing and say so; step 4 removes it from edge.
func TestClientOnlyWorkloadThroughTheReconciler(t *testing.T) {
	f := newFleet(t)
	addLoadgen(f)
	r := f.reconciler()
	rep := mustPass(t, r)
	if rep.Plan == nil || len(rep.Plan.Decisions) != 1 || rep.Plan.Decisions[0].Service != "orc8r" {
		t.Fatalf("the plan with loadgen in the fleet: %+v", rep.Plan)
	}
	decision := rep.Plan.Decisions[0]
	if len(decision.Clients) != 2 || decision.Clients[1].Client != "loadgen" || strings.Join(decision.Clients[1].Path, " → ") != "edge → cloud" {
		t.Errorf("the plan's paths for orc8r's clients: %+v", decision.Clients)
	}
	f.driveID(r, rep.Migrations[0].ID)
	if got, want := f.paths(f.headModel(), "orc8r"), "agw@edge → cloud (1 hop, 20ms)\nloadgen@edge → cloud (1 hop, 20ms)"; got != want {
		t.Fatalf("after orc8r moved: %s, want %s", got, want)
	}

	id := f.startByHand(r, "loadgen", "fog")
	f.driveID(r, id)
	model := f.headModel()
	if got, want := f.paths(model, "orc8r"), "agw@edge → cloud (1 hop, 20ms)\nloadgen@fog → cloud (1 hop, 15ms)"; got != want {
		t.Errorf("after loadgen moved: %s, want %s", got, want)
	}
	loadgen, _ := f.cfg.Service("loadgen")
	if got := model.Running(loadgen); len(got) != 1 || got[0] != "fog" {
		t.Errorf("loadgen runs in %v, want fog", got)
	}
	if model.Build("edge").HasNamespace("loadgen-ns") {
		t.Error("edge keeps Namespace loadgen-ns, which nothing needs")
	}
	for _, s := range []struct{ title, want string }{
		{"gitmig: move loadgen edge→fog [1/4 deploy]", "### How loadgen reaches what it calls after this step\n\nTo orc8r:\n\n| client | in | path | hops | latency |\n|---|---|---|---|---:|\n| loadgen | edge | edge → cloud | 1 hop | 20ms |\n| loadgen | fog | fog → cloud | 1 hop | 15ms |\n"},
		{"gitmig: move loadgen edge→fog [2/4 route]", "Nothing to route: loadgen has no Service"},
		{"gitmig: move loadgen edge→fog [2/4 route]", "No overlay changes: this pull request only records the step"},
		{"gitmig: move loadgen edge→fog [3/4 flip]", "Nothing to flip: loadgen has no Service"},
		{"gitmig: move loadgen edge→fog [4/4 cleanup]", "so no ExternalName stays behind"},
	} {
		if body := f.prBody(s.title); !strings.Contains(body, s.want) {
			t.Errorf("%s lacks %q:\n%s", s.title, s.want, body)
		}
	}
	for _, pr := range f.prs() {
		if pr.State != forge.StateMerged {
			t.Errorf("#%d %s is %s", pr.Number, pr.Title, pr.State)
		}
	}
	f.git("fsck", "--strict")
}

// renderAll renders the steps of a migration in turn on model, returning the last
// change.
func renderAll(t *testing.T, model *fleet.Model, cfg *config.Config, id, service, from, to string, steps ...step.Step) *render.Change {
	t.Helper()
	m, err := render.NewMigration(cfg, id, service, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var change *render.Change
	for _, s := range steps {
		if change, err = render.Render(model, m, s); err != nil {
			t.Fatalf("%s step %s: %v", id, s, err)
		}
		model = change.After
	}
	return change
}

// The chain, where gitmig cannot undo it: orc8r went edge → cloud, edge's
// operators replaced gitmig's stub with their own, and orc8r now moves to fog. agw's
// way is edge → cloud → fog, 35ms against orc8r's maxLatencyMs of 25, and step 3's
// pull request says so instead of calling every service reachable.
func TestBodyShowsAChainOverTheLatencyBound(t *testing.T) {
	f := newFleet(t)
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), headTree(t, f.remote), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	model = renderAll(t, model, f.cfg, "orc8r-edge-to-cloud-20260504-0900", "orc8r", "edge", "cloud", step.All()...).After
	kust, err := render.ReadKustomization(model.Tree, "clusters/edge")
	if err != nil {
		t.Fatal(err)
	}
	stub, err := model.Tree.ReadFile("clusters/edge/gitmig/externalname-orc8r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	kust.RemoveResource("gitmig/externalname-orc8r.yaml")
	if err := kust.AddResource("orc8r-alias.yaml"); err != nil {
		t.Fatal(err)
	}
	edit, err := kust.Edit()
	if err != nil {
		t.Fatal(err)
	}
	if model, err = model.With([]tree.Edit{edit, {Path: "clusters/edge/gitmig/externalname-orc8r.yaml", Delete: true}, {Path: "clusters/edge/orc8r-alias.yaml", Content: stub}}); err != nil {
		t.Fatal(err)
	}
	flip := renderAll(t, model, f.cfg, "orc8r-cloud-to-fog-20260505-0900", "orc8r", "cloud", "fog", step.Deploy, step.Route, step.Flip)
	rec := record.New(flip.Migration.ID, record.Spec{Service: "orc8r", Namespace: "orc8r-ns", From: "cloud", To: "fog", DecidedBy: "gitmig migrate", Reason: "by hand"})
	preview, err := flip.Preview()
	if err != nil {
		t.Fatal(err)
	}
	body := Body(BodyInput{Config: f.cfg, Record: rec, Step: step.Flip, Change: flip, Preview: preview})
	if want := "| agw | edge | edge → cloud → fog | 2 hops | 35ms, over maxLatencyMs 25 |"; !strings.Contains(body, want) {
		t.Errorf("step 3's body lacks %q:\n%s", want, body)
	}
	if strings.Contains(body, "re-points them") {
		t.Errorf("step 3's body claims to re-point a hand-written ExternalName:\n%s", body)
	}
}
