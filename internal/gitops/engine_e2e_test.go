package gitops

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// engine plays Argo CD or Flux in the end-to-end tests: it applies a cluster's overlay
// at a commit to that cluster's real API server, with pruning, then writes the status
// the real engine would write on the management cluster.
type engine struct {
	t     *testing.T
	env   *kubeenv.Env
	fleet *testFleet
	kind  string // config.EngineArgoCD or config.EngineFlux
	// health is the Argo CD health, or the Flux Ready reason, the next report gives.
	health string
}

var (
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	services    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

const engineNamespace = "gitops-system"

// newEngineFleet starts the API servers of the example's clusters and a management
// cluster, applies the example as it stands, and configures gitmig to gate on the
// engine's objects there.
func newEngineFleet(t *testing.T, kind string) (*testFleet, *engine) {
	env := kubeenv.Start(t, "mgmt", "edge", "fog", "cloud")
	f := newFleet(t)
	mgmt := env.Cluster("mgmt")
	target := config.KubeTarget{Kubeconfig: mgmt.Kubeconfig, Context: "mgmt"}
	names := map[string]string{"edge": "edge", "fog": "fog", "cloud": "cloud"}
	f.cfg.GitOps.Engine = kind
	if kind == config.EngineArgoCD {
		f.cfg.GitOps.ArgoCD = &config.ArgoCD{KubeTarget: target, Namespace: engineNamespace, Applications: names}
	} else {
		f.cfg.GitOps.Flux = &config.Flux{KubeTarget: target, Namespace: engineNamespace, Kustomizations: names}
	}
	e := &engine{t: t, env: env, fleet: f, kind: kind, health: "Healthy"}
	e.createEngineObjects()
	for _, cl := range f.cfg.Clusters {
		e.sync(cl.Name)
	}
	return f, e
}

func (e *engine) reconciler() *Reconciler {
	r := e.fleet.reconciler()
	g, err := Gate(e.fleet.cfg, func(string) string { return "" })
	if err != nil {
		e.t.Fatal(err)
	}
	r.Gate = g
	return r
}

func (e *engine) resource() schema.GroupVersionResource {
	if e.kind == config.EngineArgoCD {
		return gate.ApplicationResource
	}
	return gate.KustomizationResource
}

func (e *engine) createEngineObjects() {
	ctx := context.Background()
	mgmt := e.env.Cluster("mgmt").Dynamic
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": engineNamespace}}}
	if _, err := mgmt.Resource(namespaces).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
	if e.kind == config.EngineFlux {
		kubeenv.InstallBootstrapCRDs(e.t, e.env.Cluster("mgmt"))
		repo := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
			"metadata": map[string]any{"name": "fleet", "namespace": engineNamespace},
			// Flux fetches over HTTP(S) or SSH only; no controller runs here to fetch.
			"spec": map[string]any{"url": "https://git.example.internal/fleet.git", "interval": "1m", "ref": map[string]any{"branch": "main"}},
		}}
		if _, err := mgmt.Resource(gate.GitRepositoryResource).Namespace(engineNamespace).Create(ctx, repo, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, cl := range e.fleet.cfg.Clusters {
		var obj map[string]any
		if e.kind == config.EngineArgoCD {
			obj = map[string]any{
				"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
				"metadata": map[string]any{"name": cl.Name, "namespace": engineNamespace},
				"spec": map[string]any{
					"project":     "default",
					"source":      map[string]any{"repoURL": e.fleet.remote, "path": cl.Path, "targetRevision": "main"},
					"destination": map[string]any{"server": e.env.Cluster(cl.Name).URL},
					"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true}},
				},
			}
		} else {
			obj = map[string]any{
				"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
				"metadata": map[string]any{"name": cl.Name, "namespace": engineNamespace},
				"spec": map[string]any{
					"interval":  "5m",
					"path":      "./" + cl.Path,
					"prune":     true,
					"sourceRef": map[string]any{"kind": "GitRepository", "name": "fleet"},
				},
			}
		}
		if _, err := mgmt.Resource(e.resource()).Namespace(engineNamespace).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// sync applies the cluster's overlay at the remote's main and reports it, as the
// engine would after a merge.
func (e *engine) sync(cluster string) string {
	e.t.Helper()
	ctx := context.Background()
	ws, err := workspace.Clone(ctx, workspace.Options{Remote: e.fleet.remote, Branch: "main"})
	if err != nil {
		e.t.Fatal(err)
	}
	files, err := ws.Tree(ws.Head())
	if err != nil {
		e.t.Fatal(err)
	}
	objs, err := kubeenv.ParseYAML([]byte(buildYAML(e.t, files, e.fleet.cfg, cluster)))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.env.Cluster(cluster).Applier(e.kind).ApplyPrune(ctx, "gitops-"+cluster, objs); err != nil {
		e.t.Fatalf("applying %s at %s: %v", cluster, ws.Head()[:7], err)
	}
	e.report(cluster, ws.Head())
	return ws.Head()
}

// report writes the engine's status for cluster at revision.
func (e *engine) report(cluster, revision string) {
	e.t.Helper()
	ctx := context.Background()
	client := e.env.Cluster("mgmt").Dynamic.Resource(e.resource()).Namespace(engineNamespace)
	obj, err := client.Get(ctx, cluster, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.fleet.clock.Now().UTC().Format(time.RFC3339)
	if e.kind == config.EngineArgoCD {
		obj.Object["status"] = map[string]any{
			"sync":         map[string]any{"status": "Synced", "revision": revision},
			"health":       map[string]any{"status": e.health},
			"reconciledAt": now,
			"operationState": map[string]any{
				"operation":  map[string]any{"sync": map[string]any{"revision": revision}},
				"phase":      "Succeeded",
				"startedAt":  now,
				"finishedAt": now,
				"syncResult": map[string]any{"revision": revision},
			},
		}
		// Argo CD's Application has no status subresource.
		if _, err := client.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	ready := map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied revision: main@sha1:" + revision, "lastTransitionTime": now}
	if e.health != "Healthy" {
		ready["status"], ready["reason"] = "False", e.health
	}
	obj.Object["status"] = map[string]any{
		"observedGeneration":    obj.GetGeneration(),
		"lastAppliedRevision":   "main@sha1:" + revision,
		"lastAttemptedRevision": "main@sha1:" + revision,
		"conditions":            []any{ready},
	}
	if _, err := client.UpdateStatus(ctx, obj, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *engine) annotations(cluster string) map[string]string {
	obj, err := e.env.Cluster("mgmt").Dynamic.Resource(e.resource()).Namespace(engineNamespace).Get(context.Background(), cluster, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return obj.GetAnnotations()
}

func (e *engine) live(cluster string, res schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	e.t.Helper()
	c := e.env.Cluster(cluster).Dynamic.Resource(res)
	var obj *unstructured.Unstructured
	var err error
	if namespace == "" {
		obj, err = c.Get(context.Background(), name, metav1.GetOptions{})
	} else {
		obj, err = c.Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	}
	if err != nil {
		return nil
	}
	return obj
}

// openPRs is the number of gitmig pull requests in all and the title of the open one.
func openPR(f *testFleet) (int, string) {
	prs := f.prs()
	for _, pr := range prs {
		if pr.State == forge.StateOpen {
			return len(prs), pr.Title
		}
	}
	return len(prs), ""
}

func TestEnginesGateEveryStepOnRealAPIServers(t *testing.T) {
	for _, kind := range []string{config.EngineArgoCD, config.EngineFlux} {
		t.Run(kind, func(t *testing.T) {
			f, e := newEngineFleet(t, kind)
			r := e.reconciler()
			mustPass(t, r)
			for num := 1; num <= 4; num++ {
				n, title := openPR(f)
				want := fmt.Sprintf("[%d/4 %s]", num, step.Step(num).Name())
				if n != num || !strings.HasSuffix(title, want) {
					t.Fatalf("before step %d: %d pull requests, open %q", num, n, title)
				}
				f.mergeOpen()
				cluster := "cloud"
				if num >= 3 {
					cluster = "edge"
				}
				// Merged but not applied: the gate waits and asks the engine to look now.
				mustPass(t, r)
				if n, _ := openPR(f); n != num {
					t.Fatalf("step %d: the next pull request opened before the engine applied the merge", num)
				}
				if kind == config.EngineArgoCD && e.annotations(cluster)[gate.RefreshAnnotation] == "" {
					t.Errorf("step %d: no refresh requested on Application %s", num, cluster)
				}
				if kind == config.EngineFlux && e.annotations(cluster)[gate.RequestedAtAnnotation] == "" {
					t.Errorf("step %d: no reconcile requested on Kustomization %s", num, cluster)
				}
				if kind == config.EngineFlux {
					repo, err := e.env.Cluster("mgmt").Dynamic.Resource(gate.GitRepositoryResource).Namespace(engineNamespace).Get(context.Background(), "fleet", metav1.GetOptions{})
					if err != nil || repo.GetAnnotations()[gate.RequestedAtAnnotation] == "" {
						t.Errorf("step %d: no fetch requested on GitRepository fleet (%v)", num, err)
					}
				}
				if num == 1 {
					// Applied but not healthy still waits.
					e.health = map[string]string{config.EngineArgoCD: "Degraded", config.EngineFlux: "HealthCheckFailed"}[kind]
					e.sync(cluster)
					report := mustPass(t, r)
					if n, _ := openPR(f); n != 1 || !strings.Contains(report.Migrations[0].WaitingFor, e.health) {
						t.Fatalf("unhealthy: %d pull requests, waiting for %q", n, report.Migrations[0].WaitingFor)
					}
					e.health = "Healthy"
				}
				e.sync(cluster)
				e.assertLive(num)
				if num == 2 {
					report := mustPass(t, r)
					if !strings.Contains(report.Migrations[0].WaitingFor, "settling cloud") {
						t.Fatalf("after the route: waiting for %q", report.Migrations[0].WaitingFor)
					}
					f.clock.Add(f.cfg.Policy.RouteSettle.Duration)
				}
				if num == 3 {
					report := mustPass(t, r)
					if !strings.Contains(report.Migrations[0].WaitingFor, "draining edge") {
						t.Fatalf("after the flip: waiting for %q", report.Migrations[0].WaitingFor)
					}
					f.clock.Add(f.cfg.Policy.Drain.Duration)
				}
				report := mustPass(t, r)
				if num == 4 {
					if report.Migrations[0].Status != string(record.Completed) {
						t.Fatalf("after step 4: %+v", report.Migrations[0])
					}
				}
			}
		})
	}
}

// assertLive checks the API servers after each step is applied.
func (e *engine) assertLive(num int) {
	e.t.Helper()
	if e.live("cloud", deployments, "orc8r-ns", "orc8r") == nil {
		e.t.Errorf("after step %d: no Deployment orc8r in cloud", num)
	}
	if e.live("edge", deployments, "agw-ns", "agw") == nil {
		e.t.Errorf("after step %d: agw left edge", num)
	}
	svc := e.live("edge", services, "orc8r-ns", "orc8r")
	if svc == nil {
		e.t.Fatalf("after step %d: edge lost Service orc8r", num)
	}
	typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type")
	name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName")
	if flipped := typ == "ExternalName" && name == "cloud.testnetwork.internal"; flipped != (num >= 3) {
		e.t.Errorf("after step %d: edge's Service orc8r is %s %q", num, typ, name)
	}
	if gone := e.live("edge", deployments, "orc8r-ns", "orc8r") == nil; gone != (num == 4) {
		e.t.Errorf("after step %d: edge's Deployment orc8r gone = %v", num, gone)
	}
	if e.live("edge", namespaces, "", "orc8r-ns") == nil {
		e.t.Errorf("after step %d: edge lost Namespace orc8r-ns", num)
	}
}

func TestStepTimeoutRollsBackOnRealAPIServers(t *testing.T) {
	for _, kind := range []string{config.EngineArgoCD, config.EngineFlux} {
		t.Run(kind, func(t *testing.T) {
			f, e := newEngineFleet(t, kind)
			r := e.reconciler()
			mustPass(t, r)
			f.mergeOpen()
			// The engine applies step 1, but the destination never gets healthy.
			e.health = map[string]string{config.EngineArgoCD: "Degraded", config.EngineFlux: "HealthCheckFailed"}[kind]
			e.sync("cloud")
			f.clock.Add(f.cfg.Policy.StepTimeout.Duration + time.Minute)
			mustPass(t, r)
			n, title := openPR(f)
			if n != 2 || title != "gitmig: rollback move orc8r edge→cloud [undo 1/4 deploy]" {
				t.Fatalf("past stepTimeout: %d pull requests, open %q", n, title)
			}
			f.mergeOpen()
			e.health = "Healthy"
			e.sync("cloud")
			report := mustPass(t, r)
			if report.Migrations[0].Status != string(record.RolledBack) {
				t.Fatalf("after the rollback applied: %+v", report.Migrations[0])
			}
			if e.live("cloud", deployments, "orc8r-ns", "orc8r") != nil {
				t.Error("the rollback left orc8r in cloud")
			}
			if e.live("edge", deployments, "orc8r-ns", "orc8r") == nil {
				t.Error("edge stopped serving orc8r")
			}
		})
	}
}
