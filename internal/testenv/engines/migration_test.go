package engines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/testenv/engines"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// The scenarios move orc8r from the overloaded edge to cloud, as the example's metrics
// snapshot decides, with gitmig's own `reconcile --interval` loop opening each pull
// request, the test merging it as a reviewer would, and real Argo CD or Flux applying
// it to clusters whose controllers, scheduler and kwok nodes run the pods.

// optIn is the environment variable that turns the scenarios on. They take minutes
// each, past `go test`'s default timeout for the four of them, so .ci/run runs them
// on their own with a longer one.
const optIn = "GITMIG_ENGINES_E2E"

// reconcileInterval is the --interval of gitmig's loop: how long at most a gate's
// answer waits to be seen, beyond the pass itself.
const reconcileInterval = time.Second

// drain is policy.drain in the scenarios: long enough to be seen in the timeline,
// short enough not to dominate it.
const drain = 5 * time.Second

// stepWait bounds each wait of a scenario: an engine applying a merge, gitmig opening
// the next pull request. Two shared cores make it generous.
const stepWait = 4 * time.Minute

var (
	deployments   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	services      = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	namespaces    = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	pods          = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	ingressRoutes = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutes"}
)

// TestMain keeps the git server's line per HTTP request (gitkit logs through the
// standard logger) out of the output, where it would bury a failure's messages; its
// errors still show.
func TestMain(m *testing.M) {
	log.SetOutput(dropRequests{os.Stderr})
	os.Exit(m.Run())
}

type dropRequests struct{ w io.Writer }

func (d dropRequests) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(" request: GET ")) || bytes.Contains(p, []byte(" request: POST ")) {
		return len(p), nil
	}
	return d.w.Write(p)
}

func TestMigrationWithArgoCD(t *testing.T) { testMigration(t, config.EngineArgoCD) }
func TestMigrationWithFlux(t *testing.T)   { testMigration(t, config.EngineFlux) }
func TestRollbackWithArgoCD(t *testing.T)  { testRollback(t, config.EngineArgoCD) }
func TestRollbackWithFlux(t *testing.T)    { testRollback(t, config.EngineFlux) }

// testMigration runs the whole migration and checks the live clusters after each step.
func testMigration(t *testing.T, engine string) {
	s := newScenario(t, engine, "30m", nil, false)
	baseline := s.fingerprints()
	s.reconcileLoop()
	var timeline []stepTiming
	for step := 1; step <= 4; step++ {
		name := render.Step(step).Name()
		title := fmt.Sprintf("gitmig: move orc8r edge→cloud [%d/4 %s]", step, name)
		pr := s.waitForPR(title)
		if step > 1 {
			timeline[step-2].GateSeen = s.log.seen(s.t, timeline[step-2].Merged, "create-pr ", title)
		}
		cluster := "cloud"
		if step >= 3 {
			cluster = "edge"
		}
		merged := s.merge(pr)
		// The forge keeps whole seconds; the merge is on the remote once Merge returns.
		mergedAt := time.Now()
		applied := s.waitApplied(cluster, merged.MergeCommit)
		timeline = append(timeline, stepTiming{Step: step, Name: name, Cluster: cluster, Merged: mergedAt, Applied: applied})
		s.assertLive(step, baseline)
	}
	s.waitForPhase(record.Completed)
	timeline[3].GateSeen = s.log.seen(s.t, timeline[3].Merged, "record ", ": gitmig: complete ")
	s.report(timeline)
}

// testRollback gives cloud a node too small for orc8r: step 1 applies but orc8r's
// pods stay Pending, so after stepTimeout gitmig opens the rollback, which the test
// merges; the engine removes orc8r from cloud, edge serves throughout.
func testRollback(t *testing.T, engine string) {
	const stepTimeout = 45 * time.Second
	small := &engines.Node{Name: "cloud-0", CPU: "1", Memory: "4Gi"}
	s := newScenario(t, engine, stepTimeout.String(), small, argoAllowsEmpty(t))
	baseline := s.fingerprints()
	s.reconcileLoop()
	pr := s.waitForPR("gitmig: move orc8r edge→cloud [1/4 deploy]")
	merged := s.merge(pr)
	if err := s.eventually(stepWait, func() error { return s.pending("cloud") }); err != nil {
		t.Fatalf("step 1 in cloud: %v", err)
	}
	s.assertEdgeServes("step 1 merged")
	undo := s.waitForPR("gitmig: rollback move orc8r edge→cloud [undo 1/4 deploy]")
	if wait := undo.CreatedAt.Sub(merged.MergedAt); wait < stepTimeout {
		t.Errorf("the rollback opened %s after the merge, before stepTimeout %s", wait, stepTimeout)
	}
	undone := s.merge(undo)
	s.waitApplied("cloud", undone.MergeCommit)
	s.waitForPhase(record.RolledBack)
	err := s.eventually(stepWait, func() error {
		if s.get("cloud", deployments, "orc8r-ns", "orc8r") != nil {
			return fmt.Errorf("orc8r still in cloud")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	s.assertEdgeServes("rolled back")
	if diff := diffFingerprints(baseline, s.fingerprints(), "cloud"); diff != "" {
		t.Errorf("rolled back: clusters changed beyond orc8r in cloud:\n%s", diff)
	}
}

// argoAllowsEmpty reports whether the rollback scenario must set allowEmpty on the
// Applications itself: undoing step 1 leaves cloud's overlay empty, which Argo CD's
// automated sync refuses to apply unless syncPolicy.automated.allowEmpty is true, and
// argocd/applicationset.yaml does not set it. The rollback PR then stays unapplied
// and the migration RollingBack. The test says so in its log until the bootstrap
// sets it.
func argoAllowsEmpty(t *testing.T) bool {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "argocd", "applicationset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*allowEmpty: true\b`).Match(data) {
		return false
	}
	t.Log("NOTE: argocd/applicationset.yaml's automated sync lacks allowEmpty: true, so real Argo CD " +
		"would not apply a rollback that empties a cluster (\"auto-sync will wipe out all resources\"); " +
		"this scenario sets it on the Applications")
	return true
}

// scenario is the example fleet on simulated clusters with one engine.
type scenario struct {
	t       *testing.T
	engine  string
	env     *kubeenv.Env
	git     *engines.GitServer
	forge   *local.Forge
	repo    string // a checkout of the repository, where gitmig reconcile runs
	cfgPath string
	snap    string
	dir     string
	log     *lineLog
	// noReceiver is set when Flux runs without the push webhook.
	noReceiver bool
}

// newScenario starts the management cluster and edge, fog and cloud with nodes of
// gitmig.yaml's capacity (cloud's replaced by cloudNode when set), serves the example
// repository over HTTP with a gitmig.yaml for this engine, and starts the engine.
func newScenario(t *testing.T, engine, stepTimeout string, cloudNode *engines.Node, allowEmpty bool) *scenario {
	if os.Getenv(optIn) == "" {
		t.Skipf("real-engine scenario: set %s=1 to run it; it takes minutes (README, Real-engine tests)", optIn)
	}
	started := time.Now()
	s := &scenario{t: t, engine: engine, dir: t.TempDir()}
	s.env = kubeenv.Start(t, "mgmt", "edge", "fog", "cloud")
	example, err := config.Parse(mustRead(t, gitmig.Example, "gitmig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var workloads []engines.Workload
	for _, cl := range example.Clusters {
		node := engines.Node{Name: cl.Name + "-0", CPU: cl.Capacity.CPU, Memory: cl.Capacity.Memory}
		if cl.Name == "cloud" && cloudNode != nil {
			node = *cloudNode
		}
		workloads = append(workloads, engines.Workload{Cluster: s.env.Cluster(cl.Name), Nodes: []engines.Node{node}})
	}
	engines.Workers(t, workloads...)

	s.git = engines.NewGitServer(t, "fleet", func(dir, url string) error {
		data, err := s.gitmigYAML(url, stepTimeout)
		if err != nil {
			return err
		}
		files := fstest.MapFS{}
		err = fs.WalkDir(gitmig.Example, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(gitmig.Example, p)
			files[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			return err
		}
		files["gitmig.yaml"] = &fstest.MapFile{Data: data}
		_, err = workspace.Seed(dir, "main", files, "gitmig", "gitmig@localhost", time.Now())
		return err
	})
	// The scheduled job runs in a checkout of the fleet repository, with its gitmig.yaml.
	checkout := filepath.Join(s.dir, "fleet")
	if out, err := exec.Command("git", "clone", "--quiet", s.git.URL, checkout).CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", s.git.URL, err, out)
	}
	s.repo, s.cfgPath = checkout, filepath.Join(checkout, "gitmig.yaml")
	s.snap = filepath.Join(s.dir, "metrics.yaml")
	if err := os.WriteFile(s.snap, gitmig.ExampleMetrics, 0o600); err != nil {
		t.Fatal(err)
	}
	if s.forge, err = local.New(local.Options{Remote: s.git.URL, Base: "main", AuthorName: "reviewer", AuthorEmail: "reviewer@localhost"}); err != nil {
		t.Fatal(err)
	}

	mgmt := s.env.Cluster("mgmt")
	clusters := []*kubeenv.Cluster{s.env.Cluster("edge"), s.env.Cluster("fog"), s.env.Cluster("cloud")}
	root := filepath.Join("..", "..", "..")
	switch engine {
	case config.EngineArgoCD:
		engines.StartArgoCD(t, mgmt, engines.ArgoCDOptions{Bootstrap: filepath.Join(root, "argocd"), RepoURL: s.git.URL, Clusters: clusters, AllowEmpty: allowEmpty})
	case config.EngineFlux:
		// A webhook Receiver, as docs/adopting.md recommends, has source-controller
		// fetch on every push. GITMIG_ENGINES_FLUX_RECEIVER=off measures without it:
		// Flux then sees a merge at the GitRepository's interval (1m in flux/).
		receiver := s.git
		if os.Getenv("GITMIG_ENGINES_FLUX_RECEIVER") == "off" {
			receiver, s.noReceiver = nil, true
			t.Log("no webhook Receiver: source-controller fetches at the GitRepository's interval")
		}
		engines.StartFlux(t, mgmt, engines.FluxOptions{Bootstrap: filepath.Join(root, "flux"), RepoURL: s.git.URL, Clusters: clusters, Receiver: receiver})
	}
	t.Logf("%s: clusters, git server and engine up in %s", engine, time.Since(started).Round(time.Second))
	return s
}

// gitmigYAML is the example's gitmig.yaml with the scenario's policy timings, and a
// gitops section for this repository, the local forge, the engine on mgmt and the
// workload clusters.
func (s *scenario) gitmigYAML(url, stepTimeout string) ([]byte, error) {
	data := string(mustRead(s.t, gitmig.Example, "gitmig.yaml"))
	for _, r := range []struct{ key, value string }{{"drain", drain.String()}, {"stepTimeout", stepTimeout}} {
		re := regexp.MustCompile(`(?m)^(  ` + r.key + `:) \S+$`)
		if !re.MatchString(data) {
			return nil, fmt.Errorf("example gitmig.yaml has no policy.%s", r.key)
		}
		data = re.ReplaceAllString(data, "$1 "+r.value)
	}
	i := strings.Index(data, "\ngitops:\n")
	if i < 0 {
		return nil, fmt.Errorf("example gitmig.yaml has no gitops section")
	}
	kube := func(name string) string {
		return fmt.Sprintf("{kubeconfig: %q, context: %s}", s.env.Cluster(name).Kubeconfig, name)
	}
	var b strings.Builder
	b.WriteString(data[:i+1])
	fmt.Fprintf(&b, "gitops:\n  remote: %s\n  branch: main\n  engine: %s\n  forge: local\n  dns: externalname\n", url, s.engine)
	mgmt := s.env.Cluster("mgmt")
	switch s.engine {
	case config.EngineArgoCD:
		fmt.Fprintf(&b, "  argocd:\n    kubeconfig: %q\n    context: mgmt\n    namespace: %s\n    applications: {edge: edge, fog: fog, cloud: cloud}\n", mgmt.Kubeconfig, engines.ArgoCDNamespace)
	case config.EngineFlux:
		fmt.Fprintf(&b, "  flux:\n    kubeconfig: %q\n    context: mgmt\n    namespace: %s\n    kustomizations: {edge: edge, fog: fog, cloud: cloud}\n", mgmt.Kubeconfig, engines.FluxNamespace)
	}
	fmt.Fprintf(&b, "  workloads:\n    edge: %s\n    fog: %s\n    cloud: %s\n", kube("edge"), kube("fog"), kube("cloud"))
	out := []byte(b.String())
	if _, err := config.Parse(out); err != nil {
		return nil, fmt.Errorf("the scenario's gitmig.yaml: %w", err)
	}
	return out, nil
}

// reconcileLoop runs `gitmig reconcile --interval 1s --metrics <snapshot>` with the
// scenario's gitmig.yaml until the test ends.
func (s *scenario) reconcileLoop() {
	s.log = &lineLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- reconcile.Run(ctx, &reconcile.Options{
			Globals:  &cmdutil.Globals{Repo: s.repo, Config: s.cfgPath},
			Streams:  cmdutil.Streams{Out: s.log, Err: s.log},
			Metrics:  cmdutil.MetricsFlags{Metrics: s.snap},
			Interval: reconcileInterval,
			Env:      func(string) string { return "" },
			Now:      time.Now,
		})
	}()
	s.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("gitmig reconcile: %v", err)
		}
		if s.t.Failed() {
			s.t.Logf("gitmig reconcile's last output:\n%s", s.log.tail(40))
		}
	})
}

// waitForPR waits for gitmig to open the pull request of that title.
func (s *scenario) waitForPR(title string) forge.PullRequest {
	s.t.Helper()
	var found forge.PullRequest
	err := s.eventually(stepWait, func() error {
		prs, err := s.forge.List(context.Background())
		if err != nil {
			return err
		}
		var titles []string
		for _, pr := range prs {
			if pr.Title == title && pr.State == forge.StateOpen {
				found = pr
				return nil
			}
			titles = append(titles, fmt.Sprintf("#%d %s %q", pr.Number, pr.State, pr.Title))
		}
		return fmt.Errorf("pull requests: %s", strings.Join(titles, ", "))
	})
	if err != nil {
		s.t.Fatalf("waiting for %q: %v\ngitmig reconcile's last output:\n%s", title, err, s.log.tail(30))
	}
	return found
}

// merge merges a pull request as a reviewer would.
func (s *scenario) merge(pr forge.PullRequest) forge.PullRequest {
	s.t.Helper()
	merged, err := s.forge.Merge(context.Background(), pr.Number)
	if err != nil {
		s.t.Fatalf("merging #%d: %v", pr.Number, err)
	}
	return merged
}

// waitApplied waits until the engine reports the cluster applied at the merge commit or
// a later one, and healthy, and returns when the test saw it: it watches the engine's
// object, so that it sees the status as soon as the engine writes it.
func (s *scenario) waitApplied(cluster, merge string) time.Time {
	s.t.Helper()
	var res schema.GroupVersionResource
	var ns string
	if s.engine == config.EngineArgoCD {
		res, ns = gate.ApplicationResource, engines.ArgoCDNamespace
	} else {
		res, ns = gate.KustomizationResource, engines.FluxNamespace
	}
	client := s.env.Cluster("mgmt").Dynamic.Resource(res).Namespace(ns)
	check := func(obj *unstructured.Unstructured) error {
		if s.engine == config.EngineArgoCD {
			return s.argoApplied(obj, merge)
		}
		return s.fluxApplied(obj, merge)
	}
	ctx, cancel := context.WithTimeout(context.Background(), stepWait)
	defer cancel()
	// A plain watch from a get, not an informer: client-go's informers ask for
	// streamed lists, which kubeenv's etcd cannot serve, and fall back to relisting
	// late.
	var last error
	for ctx.Err() == nil {
		obj, err := client.Get(ctx, cluster, metav1.GetOptions{})
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if last = check(obj); last == nil {
			return time.Now()
		}
		w, err := client.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", cluster).String(),
			ResourceVersion: obj.GetResourceVersion(),
		})
		if err != nil {
			last = err
			continue
		}
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type != watch.Deleted {
				if last = check(obj); last == nil {
					w.Stop()
					return time.Now()
				}
			}
		}
		w.Stop()
	}
	s.t.Fatalf("%s applying %.7s in %s: %v (%v)", s.engine, merge, cluster, ctx.Err(), last)
	return time.Time{}
}

func (s *scenario) argoApplied(app *unstructured.Unstructured, merge string) error {
	revision, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
	health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
	phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
	synced, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
	if !s.descends(revision, merge) || !s.descends(synced, merge) || sync != "Synced" || health != "Healthy" || phase != "Succeeded" {
		return fmt.Errorf("Application %s at %.7s (operation %s at %.7s), %s, %s", app.GetName(), revision, phase, synced, sync, health)
	}
	return nil
}

func (s *scenario) fluxApplied(ks *unstructured.Unstructured, merge string) error {
	applied, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
	observed, _, _ := unstructured.NestedInt64(ks.Object, "status", "observedGeneration")
	ready := "no Ready condition"
	conditions, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
	for _, c := range conditions {
		if m, _ := c.(map[string]any); m["type"] == "Ready" {
			ready = fmt.Sprintf("Ready %v %v", m["status"], m["reason"])
		}
	}
	if !s.descends(gate.RevisionSHA(applied), merge) || observed != ks.GetGeneration() || !strings.HasPrefix(ready, "Ready True") {
		return fmt.Errorf("Kustomization %s applied %s, %s", ks.GetName(), applied, ready)
	}
	return nil
}

// descends reports whether commit is merge or one of its descendants in the served
// repository.
func (s *scenario) descends(commit, merge string) bool {
	if commit == "" {
		return false
	}
	return exec.Command("git", "-C", s.git.Dir, "merge-base", "--is-ancestor", merge, commit).Run() == nil
}

// waitForPhase waits for the migration record on main to reach phase, and returns when
// the test first saw it.
func (s *scenario) waitForPhase(phase record.Phase) time.Time {
	s.t.Helper()
	err := s.eventuallyEvery(100*time.Millisecond, stepWait, func() error {
		out, err := exec.Command("git", "-C", s.git.Dir, "ls-tree", "--name-only", "main", "migrations/").Output()
		if err != nil {
			return err
		}
		names := strings.Fields(string(out))
		if len(names) != 1 {
			return fmt.Errorf("migration records: %q", names)
		}
		data, err := exec.Command("git", "-C", s.git.Dir, "show", "main:"+names[0]).Output()
		if err != nil {
			return err
		}
		rec, err := record.Parse(data)
		if err != nil {
			return err
		}
		if rec.Status.Phase != phase {
			return fmt.Errorf("%s is %s at step %d", rec.Metadata.Name, rec.Status.Phase, rec.Status.Step)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("waiting for the migration to be %s: %v\ngitmig reconcile's last output:\n%s", phase, err, s.log.tail(30))
	}
	return time.Now()
}

// assertLive checks the clusters once the engine has applied step.
func (s *scenario) assertLive(step int, baseline map[string]map[string]string) {
	s.t.Helper()
	// Before the flip orc8r must serve in cloud; and it must stay there.
	if err := s.eventually(time.Minute, func() error { return s.available("cloud") }); err != nil {
		s.t.Errorf("after step %d: %v", step, err)
	}
	if step >= 2 {
		routes, err := s.env.Cluster("cloud").Dynamic.Resource(ingressRoutes).Namespace("orc8r-ns").List(context.Background(), metav1.ListOptions{})
		if err != nil || len(routes.Items) == 0 {
			s.t.Errorf("after step %d: no IngressRoute for orc8r in cloud (%v)", step, err)
		}
	}
	svc := s.get("edge", services, "orc8r-ns", "orc8r")
	if svc == nil {
		s.t.Fatalf("after step %d: edge lost Service orc8r", step)
	}
	typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type")
	name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName")
	if flipped := typ == "ExternalName" && name == "cloud.testnetwork.internal"; flipped != (step >= 3) {
		s.t.Errorf("after step %d: edge's Service orc8r is %s %q", step, typ, name)
	}
	if step < 4 {
		// Until cleanup edge runs orc8r; until the flip its Service leads there.
		if err := s.available("edge"); err != nil {
			s.t.Errorf("after step %d: %v", step, err)
		}
	} else {
		err := s.eventually(time.Minute, func() error {
			if s.get("edge", deployments, "orc8r-ns", "orc8r") != nil {
				return fmt.Errorf("Deployment orc8r still in edge")
			}
			if n := len(s.podsOf("edge")); n > 0 {
				return fmt.Errorf("%d orc8r pods still in edge", n)
			}
			return nil
		})
		if err != nil {
			s.t.Errorf("after step 4: %v", err)
		}
		if s.get("edge", namespaces, "", "orc8r-ns") == nil {
			s.t.Errorf("after step 4: edge lost Namespace orc8r-ns")
		}
	}
	if diff := diffFingerprints(baseline, s.fingerprints(), ""); diff != "" {
		s.t.Errorf("after step %d: objects other than orc8r's changed:\n%s", step, diff)
	}
}

// assertEdgeServes checks that edge still runs orc8r behind its ClusterIP Service.
func (s *scenario) assertEdgeServes(when string) {
	s.t.Helper()
	if err := s.available("edge"); err != nil {
		s.t.Errorf("%s: %v", when, err)
	}
	svc := s.get("edge", services, "orc8r-ns", "orc8r")
	if svc == nil {
		s.t.Errorf("%s: no Service orc8r in edge", when)
		return
	}
	if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "ClusterIP" {
		s.t.Errorf("%s: edge's Service orc8r is %s, not ClusterIP", when, typ)
	}
}

// available returns nil when orc8r's Deployment in cluster is Available with all its
// replicas, each a Running pod on one of the cluster's kwok nodes.
func (s *scenario) available(cluster string) error {
	d := s.get(cluster, deployments, "orc8r-ns", "orc8r")
	if d == nil {
		return fmt.Errorf("no Deployment orc8r in %s", cluster)
	}
	if res := gate.EvaluateDeployment(d, cluster); res.Verdict != gate.Pass {
		return fmt.Errorf("%s", res.Reason)
	}
	want, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	running := 0
	for _, p := range s.podsOf(cluster) {
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
		if phase == "Running" && strings.HasPrefix(node, cluster+"-") {
			running++
		}
	}
	if int64(running) < want {
		return fmt.Errorf("%d of %d orc8r pods Running on %s's nodes", running, want, cluster)
	}
	return nil
}

// pending returns nil once orc8r's Deployment exists in cluster with every pod
// Pending, unschedulable.
func (s *scenario) pending(cluster string) error {
	if s.get(cluster, deployments, "orc8r-ns", "orc8r") == nil {
		return fmt.Errorf("no Deployment orc8r in %s", cluster)
	}
	list := s.podsOf(cluster)
	if len(list) == 0 {
		return fmt.Errorf("no orc8r pods in %s", cluster)
	}
	for _, p := range list {
		if phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase != "Pending" {
			return fmt.Errorf("pod %s is %s", p.GetName(), phase)
		}
	}
	return nil
}

func (s *scenario) podsOf(cluster string) []unstructured.Unstructured {
	list, err := s.env.Cluster(cluster).Dynamic.Resource(pods).Namespace("orc8r-ns").List(context.Background(),
		metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=orc8r"})
	if err != nil {
		s.t.Fatalf("listing orc8r's pods in %s: %v", cluster, err)
	}
	return list.Items
}

func (s *scenario) get(cluster string, res schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	s.t.Helper()
	c := s.env.Cluster(cluster).Dynamic.Resource(res)
	var obj *unstructured.Unstructured
	var err error
	if namespace == "" {
		obj, err = c.Get(context.Background(), name, metav1.GetOptions{})
	} else {
		obj, err = c.Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		s.t.Fatalf("reading %s %s/%s in %s: %v", res.Resource, namespace, name, cluster, err)
	}
	return obj
}

// fingerprints describes, per workload cluster, every Namespace, Deployment, Service,
// Pod and IngressRoute outside the system namespaces and outside orc8r-ns, which the
// migration may change: what must stay as it was.
func (s *scenario) fingerprints() map[string]map[string]string {
	out := map[string]map[string]string{}
	system := []string{"kube-system", "kube-public", "kube-node-lease", "orc8r-ns"}
	for _, cluster := range []string{"edge", "fog", "cloud"} {
		prints := map[string]string{}
		for _, res := range []schema.GroupVersionResource{namespaces, deployments, services, pods, ingressRoutes} {
			list, err := s.env.Cluster(cluster).Dynamic.Resource(res).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				s.t.Fatalf("listing %s in %s: %v", res.Resource, cluster, err)
			}
			for _, obj := range list.Items {
				ns := obj.GetNamespace()
				if res == namespaces {
					ns = obj.GetName()
				}
				if slices.Contains(system, ns) || (ns == "default" && obj.GetName() == "kubernetes") {
					continue
				}
				var what any
				switch res {
				case pods:
					// A pod that is still there is the same pod: not restarted.
					what, _, _ = unstructured.NestedString(obj.Object, "spec", "nodeName")
				case namespaces:
					what = obj.GetUID()
				default:
					what, _, _ = unstructured.NestedMap(obj.Object, "spec")
				}
				data, _ := json.Marshal(what)
				prints[fmt.Sprintf("%s %s/%s", res.Resource, obj.GetNamespace(), obj.GetName())] = string(data)
			}
		}
		out[cluster] = prints
	}
	return out
}

// diffFingerprints lists what differs between two fingerprints, leaving out the
// cluster named by except, if any.
func diffFingerprints(before, after map[string]map[string]string, except string) string {
	var lines []string
	for cluster, prints := range before {
		if cluster == except {
			continue
		}
		for key, v := range prints {
			switch w, ok := after[cluster][key]; {
			case !ok:
				lines = append(lines, fmt.Sprintf("%s: %s gone", cluster, key))
			case w != v:
				lines = append(lines, fmt.Sprintf("%s: %s changed: %s -> %s", cluster, key, v, w))
			}
		}
		for key := range after[cluster] {
			if _, ok := prints[key]; !ok {
				lines = append(lines, fmt.Sprintf("%s: %s appeared", cluster, key))
			}
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (s *scenario) eventually(timeout time.Duration, check func() error) error {
	return s.eventuallyEvery(200*time.Millisecond, timeout, check)
}

func (s *scenario) eventuallyEvery(every, timeout time.Duration, check func() error) error {
	return kubeenv.Poll(context.Background(), every, timeout, "success", check)
}

// stepTiming is when one step was merged, seen applied and healthy in the engine's
// status, and seen by gitmig's gate: the end of the pass that opened the next pull
// request, or, after step 4, recorded the migration Completed.
type stepTiming struct {
	Step     int       `json:"step"`
	Name     string    `json:"name"`
	Cluster  string    `json:"cluster"`
	Merged   time.Time `json:"merged"`
	Applied  time.Time `json:"applied"`
	GateSeen time.Time `json:"gateSeen"`
}

// timelineRecord is one scenario's timeline, as appended to $GITMIG_ENGINES_TIMELINE.
type timelineRecord struct {
	Engine string `json:"engine"`
	// NoReceiver is set for Flux without the push webhook Receiver.
	NoReceiver bool          `json:"noReceiver,omitempty"`
	Interval   time.Duration `json:"interval"`
	Drain      time.Duration `json:"drain"`
	Steps      []stepTiming  `json:"steps"`
	// Passes are the durations of gitmig's reconcile passes.
	Passes []time.Duration `json:"passes"`
}

// report logs the timeline and appends it, as one JSON line, to the file named by
// GITMIG_ENGINES_TIMELINE when set (docs/performance.md is made from such lines).
func (s *scenario) report(steps []stepTiming) {
	rec := timelineRecord{Engine: s.engine, NoReceiver: s.noReceiver, Interval: reconcileInterval, Drain: drain, Steps: steps, Passes: s.log.passes(reconcileInterval)}
	var b strings.Builder
	fmt.Fprintf(&b, "%s timeline (reconcile --interval %s, drain %s):\n", s.engine, reconcileInterval, drain)
	var total time.Duration
	for _, st := range steps {
		fmt.Fprintf(&b, "  step %d %-7s %-5s merge→applied %6.1fs  applied→gate %6.1fs  total %6.1fs\n", st.Step, st.Name, st.Cluster,
			st.Applied.Sub(st.Merged).Seconds(), st.GateSeen.Sub(st.Applied).Seconds(), st.GateSeen.Sub(st.Merged).Seconds())
		total += st.GateSeen.Sub(st.Merged)
	}
	fmt.Fprintf(&b, "  merges to gates, all steps: %.1fs; %d passes, median %s", total.Seconds(), len(rec.Passes), median(rec.Passes))
	s.t.Log(b.String())
	path := os.Getenv("GITMIG_ENGINES_TIMELINE")
	if path == "" {
		return
	}
	data, err := json.Marshal(rec)
	if err != nil {
		s.t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(data, '\n')); err != nil {
		s.t.Fatal(err)
	}
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2].Round(time.Millisecond)
}

// lineLog keeps gitmig reconcile's output lines with the time each was written.
type lineLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []timedLine
}

type timedLine struct {
	at   time.Time
	text string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			// An incomplete line waits for its end.
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.lines = append(l.lines, timedLine{now, strings.TrimSuffix(line, "\n")})
	}
}

func (l *lineLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines[max(0, len(l.lines)-n):] {
		out = append(out, line.at.Format("15:04:05.000")+" "+line.text)
	}
	return strings.Join(out, "\n")
}

// seen returns when gitmig reconcile first printed, after since, a line holding every
// one of parts: the end of the pass that took that action. It waits a little for the
// pass to print.
func (l *lineLog) seen(t *testing.T, since time.Time, parts ...string) time.Time {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, line := range l.lines {
			if line.at.After(since) && containsAll(line.text, parts) {
				l.mu.Unlock()
				return line.at
			}
		}
		l.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("gitmig reconcile printed no line with %q after %s", parts, since.Format(time.RFC3339Nano))
	return time.Time{}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// passes estimates the durations of the passes: each prints "Pass at" when it ends and
// the next starts interval later.
func (l *lineLog) passes(interval time.Duration) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ends []time.Time
	for _, line := range l.lines {
		if strings.HasPrefix(line.text, "Pass at ") {
			ends = append(ends, line.at)
		}
	}
	var out []time.Duration
	for i := 1; i < len(ends); i++ {
		out = append(out, ends[i].Sub(ends[i-1])-interval)
	}
	return out
}

func mustRead(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
