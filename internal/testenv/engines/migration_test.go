package engines_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	gitmigstep "github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/engines"
)

// The scenarios move orc8r from the overloaded edge to cloud, as the example's metrics
// snapshot decides (metro_test.go moves a service of a second fleet by hand), with
// gitmig's own `reconcile --interval` loop opening each pull request, the test merging
// it as a reviewer would, and real Argo CD or Flux applying it to clusters whose
// controllers, scheduler and kwok nodes run the pods.

// optIn is the environment variable that turns the scenarios on. They take minutes
// each, past `go test`'s default timeout, so .ci/run runs them on their own with a
// longer one.
const optIn = "GITMIG_ENGINES_E2E"

// drain is policy.drain in the scenarios: long enough to be seen in the timeline,
// short enough not to dominate it.
const drain = 5 * time.Second

var (
	deployments      = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	services         = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	namespaces       = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	pods             = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	ingressRoutes    = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutes"}
	ingressRouteTCPs = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutetcps"}
	ingressRouteUDPs = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressrouteudps"}
)

// orc8rRoutes are the routes step 2 writes for orc8r: its controller speaks TLS,
// passed through by an IngressRouteTCP; its rpc and api ports go through
// IngressRoutes.
var orc8rRoutes = []route{{ingressRouteTCPs, "orc8r-controller"}, {ingressRoutes, "orc8r-rpc"}, {ingressRoutes, "orc8r-api"}}

// route names a Traefik route by its resource.
type route struct {
	res  schema.GroupVersionResource
	name string
}

// TestMain keeps the git server's line per HTTP request (gitkit logs through the
// standard logger) out of the output, where it would bury a failure's messages; its
// errors still show.
func TestMain(m *testing.M) {
	log.SetOutput(engines.QuietGitLog(os.Stderr))
	os.Exit(m.Run())
}

func TestMigrationWithArgoCD(t *testing.T) { testMigration(t, config.EngineArgoCD) }
func TestMigrationWithFlux(t *testing.T)   { testMigration(t, config.EngineFlux) }
func TestRollbackWithArgoCD(t *testing.T)  { testRollback(t, config.EngineArgoCD) }
func TestRollbackWithFlux(t *testing.T)    { testRollback(t, config.EngineFlux) }

// testMigration runs the whole migration and checks the live clusters after each step.
func testMigration(t *testing.T, engine string) {
	s := newScenario(t, engine, setup{})
	baseline := s.fingerprints()
	s.Reconcile()
	var timeline []stepTiming
	for step := 1; step <= 4; step++ {
		name := gitmigstep.Step(step).Name()
		title := orc8rToCloud.title(step)
		pr := s.WaitForPR(title)
		if step > 1 {
			timeline[step-2].GateSeen = s.Log.Seen(s.t, timeline[step-2].Merged, "create-pr ", title)
		}
		cluster := "cloud"
		if step >= 3 {
			cluster = "edge"
		}
		merged := s.Merge(pr)
		// The forge keeps whole seconds; the merge is on the remote once Merge returns.
		mergedAt := time.Now()
		applied := s.WaitApplied(cluster, merged.MergeCommit)
		timeline = append(timeline, stepTiming{Step: step, Name: name, Cluster: cluster, Merged: mergedAt, Applied: applied})
		s.assertLive(step, baseline)
	}
	s.WaitForPhase(record.Completed)
	timeline[3].GateSeen = s.Log.Seen(s.t, timeline[3].Merged, "record ", "gitmig: complete ")
	s.report(timeline)
}

// testRollback gives cloud a node too small for orc8r: step 1 applies but orc8r's
// pods stay Pending, so after stepTimeout gitmig opens the rollback, which the test
// merges; the engine removes orc8r from cloud, edge serves throughout.
func testRollback(t *testing.T, engine string) {
	const stepTimeout = 45 * time.Second
	small := &engines.Node{Name: "cloud-0", CPU: "1", Memory: "4Gi"}
	s := newScenario(t, engine, setup{stepTimeout: stepTimeout, cloudNode: small, allowEmpty: argoAllowsEmpty(t)})
	baseline := s.fingerprints()
	s.Reconcile()
	pr := s.WaitForPR(orc8rToCloud.title(1))
	merged := s.Merge(pr)
	if err := s.Eventually(engines.StepWait, func() error { return s.pending("cloud") }); err != nil {
		t.Fatalf("step 1 in cloud: %v", err)
	}
	s.assertSourceServes(orc8rToCloud, "step 1 merged")
	undo := s.WaitForPR(orc8rToCloud.undoTitle(1))
	if wait := undo.CreatedAt.Sub(merged.MergedAt); wait < stepTimeout {
		t.Errorf("the rollback opened %s after the merge, before stepTimeout %s", wait, stepTimeout)
	}
	undone := s.Merge(undo)
	s.WaitApplied("cloud", undone.MergeCommit)
	s.WaitForPhase(record.RolledBack)
	err := s.Eventually(engines.StepWait, func() error {
		if s.get("cloud", deployments, "orc8r-ns", "orc8r") != nil {
			return fmt.Errorf("orc8r still in cloud")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	s.assertSourceServes(orc8rToCloud, "rolled back")
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

// scenario is a fleet on simulated clusters with one engine.
type scenario struct {
	*engines.Fleet
	t *testing.T
	// moving are the Namespaces whose objects the scenario's moves change.
	moving []string
}

// setup says how a scenario differs from the example fleet with gitmig.yaml's nodes.
type setup struct {
	// files, bootstrap and metrics replace the example fleet's files, the project's
	// bootstrap folder for the engine and the example's metrics snapshot.
	files     fs.FS
	bootstrap string
	metrics   []byte
	// moving are the Namespaces whose objects the scenario's moves change; orc8r-ns
	// by default.
	moving []string
	// stepTimeout replaces policy.stepTimeout, 30m by default.
	stepTimeout time.Duration
	// cloudNode replaces cloud's node.
	cloudNode *engines.Node
	// allowEmpty is engines.FleetOptions.AllowEmpty.
	allowEmpty bool
}

// newScenario runs the fleet with nodes of gitmig.yaml's capacity, changed as opts
// says, and the engine.
func newScenario(t *testing.T, engine string, opts setup) *scenario {
	if os.Getenv(optIn) == "" {
		t.Skipf("real-engine scenario: set %s=1 to run it; it takes minutes (README, Real-engine tests)", optIn)
	}
	started := time.Now()
	if opts.files == nil {
		opts.files = gitmig.Example
	}
	if opts.metrics == nil {
		opts.metrics = gitmig.ExampleMetrics
	}
	if opts.bootstrap == "" {
		opts.bootstrap = filepath.Join("..", "..", "..", engine)
	}
	if opts.moving == nil {
		opts.moving = []string{"orc8r-ns"}
	}
	if opts.stepTimeout == 0 {
		opts.stepTimeout = 30 * time.Minute
	}
	loop, err := engines.LoopFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	fleet := engines.NewFleet(t, engines.FleetOptions{
		Loop:        loop,
		Engine:      engine,
		Files:       opts.files,
		Bootstrap:   opts.bootstrap,
		Drain:       drain,
		StepTimeout: opts.stepTimeout,
		Metrics:     opts.metrics,
		Node: func(c config.Cluster, byDefault engines.Node) engines.Node {
			if c.Name == "cloud" && opts.cloudNode != nil {
				return *opts.cloudNode
			}
			return byDefault
		},
		AllowEmpty: opts.allowEmpty,
	})
	t.Logf("%s: clusters, git server and engine up in %s", engine, time.Since(started).Round(time.Second))
	return &scenario{Fleet: fleet, t: t, moving: opts.moving}
}

// assertLive checks the clusters once the engine has applied step.
func (s *scenario) assertLive(step int, baseline map[string]map[string]string) {
	s.t.Helper()
	// Before the flip orc8r must serve in cloud; and it must stay there.
	if err := s.Eventually(time.Minute, func() error { return s.available(orc8r, "cloud") }); err != nil {
		s.t.Errorf("after step %d: %v", step, err)
	}
	if step >= 2 {
		for _, want := range orc8rRoutes {
			if s.get("cloud", want.res, "orc8r-ns", want.name) == nil {
				s.t.Errorf("after step %d: no %s orc8r-ns/%s in cloud", step, want.res.Resource, want.name)
			}
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
		if err := s.available(orc8r, "edge"); err != nil {
			s.t.Errorf("after step %d: %v", step, err)
		}
	} else {
		err := s.Eventually(time.Minute, func() error {
			if s.get("edge", deployments, "orc8r-ns", "orc8r") != nil {
				return fmt.Errorf("Deployment orc8r still in edge")
			}
			if n := len(s.podsOf(orc8r, "edge")); n > 0 {
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

// assertSourceServes checks that the move's source still runs its workload behind
// its ClusterIP Service.
func (s *scenario) assertSourceServes(m move, when string) {
	s.t.Helper()
	if err := s.available(m.app, m.from); err != nil {
		s.t.Errorf("%s: %v", when, err)
	}
	svc := s.get(m.from, services, m.app.namespace, m.app.name)
	if svc == nil {
		s.t.Errorf("%s: no Service %s in %s", when, m.app.name, m.from)
		return
	}
	if typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type"); typ != "ClusterIP" {
		s.t.Errorf("%s: %s's Service %s is %s, not ClusterIP", when, m.from, m.app.name, typ)
	}
}

// workload names a Deployment and the label selector of its pods.
type workload struct{ namespace, name, selector string }

var orc8r = workload{namespace: "orc8r-ns", name: "orc8r", selector: "app.kubernetes.io/name=orc8r"}

// available returns nil when the workload's Deployment in cluster is Available with
// all its replicas, each a Running pod on one of the cluster's kwok nodes.
func (s *scenario) available(w workload, cluster string) error {
	d := s.get(cluster, deployments, w.namespace, w.name)
	if d == nil {
		return fmt.Errorf("no Deployment %s in %s", w.name, cluster)
	}
	if res := gate.EvaluateDeployment(d, cluster); res.Verdict != gate.Pass {
		return fmt.Errorf("%s", res.Reason)
	}
	want, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	running := 0
	for _, p := range s.podsOf(w, cluster) {
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
		if phase == "Running" && strings.HasPrefix(node, cluster+"-") {
			running++
		}
	}
	if int64(running) < want {
		return fmt.Errorf("%d of %d %s pods Running on %s's nodes", running, want, w.name, cluster)
	}
	return nil
}

// pending returns nil once orc8r's Deployment exists in cluster with every pod
// Pending, unschedulable.
func (s *scenario) pending(cluster string) error {
	if s.get(cluster, deployments, orc8r.namespace, orc8r.name) == nil {
		return fmt.Errorf("no Deployment orc8r in %s", cluster)
	}
	list := s.podsOf(orc8r, cluster)
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

func (s *scenario) podsOf(w workload, cluster string) []unstructured.Unstructured {
	list, err := s.Env.Cluster(cluster).Dynamic.Resource(pods).Namespace(w.namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: w.selector})
	if err != nil {
		s.t.Fatalf("listing %s's pods in %s: %v", w.name, cluster, err)
	}
	return list.Items
}

func (s *scenario) get(cluster string, res schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	s.t.Helper()
	c := s.Env.Cluster(cluster).Dynamic.Resource(res)
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
// Pod and IngressRoute outside the system namespaces and outside those the scenario's
// moves change: what must stay as it was.
func (s *scenario) fingerprints() map[string]map[string]string {
	out := map[string]map[string]string{}
	system := append([]string{"kube-system", "kube-public", "kube-node-lease"}, s.moving...)
	for _, c := range s.Config.Clusters {
		cluster := c.Name
		prints := map[string]string{}
		for _, res := range []schema.GroupVersionResource{namespaces, deployments, services, pods, ingressRoutes, ingressRouteTCPs, ingressRouteUDPs} {
			list, err := s.Env.Cluster(cluster).Dynamic.Resource(res).List(context.Background(), metav1.ListOptions{})
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
	NoReceiver bool `json:"noReceiver,omitempty"`
	// Loop is how gitmig ran: reconcile or serve, and its --interval.
	Loop     string        `json:"loop"`
	Interval time.Duration `json:"interval"`
	Drain    time.Duration `json:"drain"`
	Steps    []stepTiming  `json:"steps"`
	// Passes are the durations of gitmig's reconcile passes.
	Passes []time.Duration `json:"passes"`
}

// report logs the timeline and appends it, as one JSON line, to the file named by
// GITMIG_ENGINES_TIMELINE when set (docs/performance.md is made from such lines).
func (s *scenario) report(steps []stepTiming) {
	rec := timelineRecord{Engine: s.Engine, NoReceiver: s.NoReceiver, Loop: s.Loop.String(), Interval: s.Loop.Interval, Drain: drain, Steps: steps, Passes: s.Log.Passes(s.Loop.Interval)}
	var b strings.Builder
	fmt.Fprintf(&b, "%s timeline (%s, drain %s):\n", s.Engine, s.Loop, drain)
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

func mustRead(t *testing.T, fsys fs.FS, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
