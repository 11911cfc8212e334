package watch

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// quiet is how long a test waits to be sure that no change is reported: several
// times what a reported change takes on a loaded machine.
const quiet = 2 * time.Second

var (
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// Changes to the Applications of the clusters in flight are reported, with the
// cluster; a refresh that only bumps reconciledAt, an Application of another
// cluster, and one gitmig.yaml does not name are not. The moving service's namespace
// is watched in the workload clusters while it is in focus, and no longer after.
func TestWatchReportsWhatAGateReads(t *testing.T) {
	env := kubeenv.Start(t, "mgmt", "cloud")
	mgmt, cloud := env.Cluster("mgmt"), env.Cluster("cloud")
	ctx := t.Context()
	create(t, mgmt, namespaces, "", map[string]any{"metadata": map[string]any{"name": "argocd"}, "apiVersion": "v1", "kind": "Namespace"})
	create(t, cloud, namespaces, "", map[string]any{"metadata": map[string]any{"name": "orc8r-ns"}, "apiVersion": "v1", "kind": "Namespace"})
	for _, name := range []string{"cloud", "edge", "other"} {
		create(t, mgmt, gate.ApplicationResource, "argocd", map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "namespace": "argocd"},
			"spec": map[string]any{"project": "default", "source": map[string]any{"repoURL": "https://git.example.internal/fleet.git", "path": "clusters/" + name},
				"destination": map[string]any{"name": name}},
		})
	}
	cfg := &config.Config{GitOps: config.GitOps{
		Engine: config.EngineArgoCD,
		ArgoCD: &config.ArgoCD{KubeTarget: config.KubeTarget{Kubeconfig: mgmt.Kubeconfig, Context: "mgmt"}, Namespace: "argocd", Applications: map[string]string{"cloud": "cloud", "edge": "edge"}},
		Workloads: map[string]config.WorkloadAccess{
			"cloud": {KubeTarget: config.KubeTarget{Kubeconfig: cloud.Kubeconfig, Context: "cloud"}},
		},
	}}
	changes := make(chan Change, 100)
	w, err := New(cfg, Options{OnChange: func(c Change) { changes <- c }})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(ctx)
	if !w.WaitSynced(ctx) {
		t.Fatal("the informer did not sync")
	}
	w.Focus([]Target{{Cluster: "cloud", Namespace: "orc8r-ns"}, {Cluster: "edge", Namespace: "orc8r-ns"}})
	expectNone(t, changes, "after the first list")

	setStatus(t, mgmt, "cloud", map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": "a1"}, "reconciledAt": "2026-05-04T09:00:00Z"})
	expect(t, changes, "cloud", "Application argocd/cloud")
	setStatus(t, mgmt, "cloud", map[string]any{"sync": map[string]any{"status": "OutOfSync", "revision": "a1"}, "reconciledAt": "2026-05-04T09:03:00Z"})
	expectNone(t, changes, "a refresh that changed nothing but reconciledAt")
	setStatus(t, mgmt, "other", map[string]any{"sync": map[string]any{"status": "Synced", "revision": "b2"}})
	expectNone(t, changes, "an Application gitmig.yaml does not name")
	setStatus(t, mgmt, "edge", map[string]any{"sync": map[string]any{"status": "Synced", "revision": "b2"}})
	expect(t, changes, "edge", "Application argocd/edge")

	// Out of focus: edge's Application changes nothing that matters.
	w.Focus([]Target{{Cluster: "cloud", Namespace: "orc8r-ns"}})
	setStatus(t, mgmt, "edge", map[string]any{"sync": map[string]any{"status": "Synced", "revision": "c3"}})
	expectNone(t, changes, "an Application of a cluster no migration touches")

	// The workloads of the namespace in flight; the informer's first list may still
	// be under way, so wait until it reports.
	deploy := func(name string) {
		create(t, cloud, deployments, "orc8r-ns", map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "namespace": "orc8r-ns"},
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}},
					"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "registry.example.internal/" + name}}}},
			},
		})
	}
	time.Sleep(quiet)
	deploy("orc8r")
	expect(t, changes, "cloud", "Deployment orc8r-ns/orc8r in cloud")
	w.Focus(nil)
	time.Sleep(quiet) // let the stopped informers go
	drain(changes)
	deploy("after")
	if err := cloud.Dynamic.Resource(deployments).Namespace("orc8r-ns").Delete(ctx, "orc8r", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	setStatus(t, mgmt, "cloud", map[string]any{"sync": map[string]any{"status": "Synced", "revision": "d4"}})
	expectNone(t, changes, "no migration in flight")
}

func create(t *testing.T, c *kubeenv.Cluster, res schema.GroupVersionResource, ns string, obj map[string]any) {
	t.Helper()
	var err error
	u := &unstructured.Unstructured{Object: obj}
	if ns == "" {
		_, err = c.Dynamic.Resource(res).Create(t.Context(), u, metav1.CreateOptions{})
	} else {
		_, err = c.Dynamic.Resource(res).Namespace(ns).Create(t.Context(), u, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// setStatus writes an Application's status as Argo CD does: the Application has no
// status subresource.
func setStatus(t *testing.T, mgmt *kubeenv.Cluster, name string, status map[string]any) {
	t.Helper()
	client := mgmt.Dynamic.Resource(gate.ApplicationResource).Namespace("argocd")
	app, err := client.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app.Object["status"] = status
	if _, err := client.Update(t.Context(), app, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, changes <-chan Change, cluster, object string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Cluster == cluster && strings.HasPrefix(c.Object, object) {
				return
			}
			t.Errorf("unexpected change %+v while waiting for %s in %s", c, object, cluster)
		case <-timeout:
			t.Fatalf("no change of %s in %s reported", object, cluster)
		}
	}
}

func expectNone(t *testing.T, changes <-chan Change, what string) {
	t.Helper()
	select {
	case c := <-changes:
		t.Errorf("%s: change %+v reported", what, c)
	case <-time.After(quiet):
	}
}

func drain(changes <-chan Change) {
	for {
		select {
		case <-changes:
		default:
			return
		}
	}
}

// Targets come from the migrations in flight, not the ended ones, each pair once.
func TestTargetsAreTheMigrationsInFlight(t *testing.T) {
	rep := &report.Report{Migrations: []report.MigrationStatus{
		{ID: "a", Namespace: "shop", From: "edge", To: "cloud", Status: string(record.InProgress)},
		{ID: "b", Namespace: "shop", From: "edge", To: "fog", Status: report.StatusRollingBack},
		{ID: "c", Namespace: "media", From: "fog", To: "cloud", Status: string(record.Completed)},
		{ID: "d", Namespace: "media", From: "edge", To: "cloud", Status: string(record.Aborted)},
	}}
	got := Targets(rep)
	want := []Target{{"cloud", "shop"}, {"edge", "shop"}, {"fog", "shop"}}
	if !slices.Equal(got, want) {
		t.Errorf("targets %v, want %v", got, want)
	}
}
