// Package watch tells a long-running gitmig (reconcile --follow, serve) when something
// a gate reads has changed, so that the next pass starts then instead of at a timer:
// the Argo CD Applications or Flux Kustomizations gitmig.yaml names, and, for the
// migrations in flight, the Deployments and Pods of the moving service's namespace in
// the clusters gitops.workloads gives access to. It watches with client-go informers
// and says only which cluster changed; the pass reads what it needs itself.
package watch

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/report"
)

// Change says that an object a gate reads has changed.
type Change struct {
	// Cluster is the gitmig.yaml cluster whose gate reads the object.
	Cluster string
	// Object names it for logs, such as "Application argocd/cloud".
	Object string
}

// Target is a cluster and namespace a migration in flight touches.
type Target struct {
	Cluster   string
	Namespace string
}

// Targets are the clusters and namespaces of the migrations in flight in a pass's
// report: their source and destination, in the moving service's namespace.
func Targets(rep *report.Report) []Target {
	seen := map[Target]bool{}
	for _, m := range rep.Migrations {
		if record.Phase(m.Status).Ended() {
			continue
		}
		seen[Target{m.From, m.Namespace}] = true
		seen[Target{m.To, m.Namespace}] = true
	}
	return slices.SortedFunc(maps.Keys(seen), func(a, b Target) int {
		if a.Cluster != b.Cluster {
			return compare(a.Cluster, b.Cluster)
		}
		return compare(a.Namespace, b.Namespace)
	})
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// listTimeout bounds one list of an informer, as gate.RequestTimeout bounds a gate's
// request: a server that never answers is retried, not waited on for ever. Watches
// have no such bound; the reflector ends and renews them itself.
const listTimeout = gate.RequestTimeout

// Watcher runs the informers and reports changes through OnChange.
type Watcher struct {
	onChange func(Change)
	log      *slog.Logger

	// engine is the engine's object kind, namespace and client; nil for engine none.
	engine *engineSource
	// workloads are the clients of gitops.workloads, by cluster.
	workloads map[string]dynamic.Interface

	mu sync.Mutex
	// focus holds the clusters of the migrations in flight: the engine objects of
	// other clusters change nothing that matters.
	focus map[string]bool
	// running are the workload informers, by target, with what stops them.
	running map[Target]context.CancelFunc
	// ctx is Run's, which the workload informers live within.
	ctx    context.Context
	synced chan struct{}
}

type engineSource struct {
	client    dynamic.Interface
	resource  schema.GroupVersionResource
	kind      string
	namespace string
	// clusters maps an object's name to the cluster it applies.
	clusters map[string]string
}

// Options configure a Watcher.
type Options struct {
	// OnChange is called for every change that matters, from the informers'
	// goroutines; it must not block.
	OnChange func(Change)
	Log      *slog.Logger
}

// New prepares the informers for gitmig.yaml's engine and workload clusters; Run
// starts them.
func New(cfg *config.Config, opts Options) (*Watcher, error) {
	w := &Watcher{onChange: opts.OnChange, log: opts.Log, workloads: map[string]dynamic.Interface{}, focus: map[string]bool{}, running: map[Target]context.CancelFunc{}, synced: make(chan struct{})}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	g := cfg.GitOps
	switch g.Engine {
	case config.EngineArgoCD:
		client, err := watchClient(g.ArgoCD.KubeTarget)
		if err != nil {
			return nil, fmt.Errorf("gitops.argocd: %w", err)
		}
		w.engine = &engineSource{client: client, resource: gate.ApplicationResource, kind: "Application", namespace: g.ArgoCD.Namespace, clusters: invert(g.ArgoCD.Applications)}
	case config.EngineFlux:
		client, err := watchClient(g.Flux.KubeTarget)
		if err != nil {
			return nil, fmt.Errorf("gitops.flux: %w", err)
		}
		w.engine = &engineSource{client: client, resource: gate.KustomizationResource, kind: "Kustomization", namespace: g.Flux.Namespace, clusters: invert(g.Flux.Kustomizations)}
	}
	for cluster, access := range g.Workloads {
		if access.Prometheus {
			continue
		}
		client, err := watchClient(access.KubeTarget)
		if err != nil {
			return nil, fmt.Errorf("gitops.workloads.%s: %w", cluster, err)
		}
		w.workloads[cluster] = client
	}
	return w, nil
}

// watchClient is a dynamic client without the gates' request timeout, which would
// cut every watch short.
func watchClient(target config.KubeTarget) (dynamic.Interface, error) {
	cfg, err := gate.RESTConfig(target)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 0
	return dynamic.NewForConfig(cfg)
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for cluster, name := range m {
		out[name] = cluster
	}
	return out
}

// Run starts the engine's informer and runs until ctx ends, stopping every informer.
func (w *Watcher) Run(ctx context.Context) {
	w.mu.Lock()
	w.ctx = ctx
	w.mu.Unlock()
	if w.engine == nil {
		close(w.synced)
		<-ctx.Done()
		return
	}
	e := w.engine
	informer := newInformer(e.client.Resource(e.resource).Namespace(e.namespace))
	w.handleErrors(informer, e.kind+"s in "+e.namespace)
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				w.engineChanged(obj)
			}
		},
		UpdateFunc: func(old, obj any) {
			if !equality.Semantic.DeepEqual(gateStatus(old), gateStatus(obj)) {
				w.engineChanged(obj)
			}
		},
		DeleteFunc: w.engineChanged,
	})
	if err != nil {
		w.log.Error("watching the engine", "err", err)
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
			close(w.synced)
		}
	}()
	informer.RunWithContext(ctx)
}

// Synced is closed once the engine's informer has listed its objects.
func (w *Watcher) Synced() <-chan struct{} { return w.synced }

func (w *Watcher) engineChanged(obj any) {
	u := object(obj)
	if u == nil {
		return
	}
	cluster, ok := w.engine.clusters[u.GetName()]
	if !ok {
		return
	}
	w.mu.Lock()
	focused := w.focus[cluster]
	w.mu.Unlock()
	if focused {
		w.onChange(Change{Cluster: cluster, Object: fmt.Sprintf("%s %s/%s", w.engine.kind, u.GetNamespace(), u.GetName())})
	}
}

// gateStatus is the part of an engine object's status a gate reads: all of it but
// the times Argo CD bumps on every refresh, which would start a pass each time.
func gateStatus(obj any) any {
	u := object(obj)
	if u == nil {
		return nil
	}
	status, _, _ := unstructured.NestedMap(u.Object, "status")
	delete(status, "reconciledAt")
	delete(status, "observedAt")
	return status
}

func object(obj any) *unstructured.Unstructured {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	u, _ := obj.(*unstructured.Unstructured)
	return u
}

// Workload kinds watched in a target's namespace: what the gates of gitops.workloads
// read that the engine's status may not reflect, such as pods still terminating after
// a prune.
func workloadKinds() []workloadKind {
	return []workloadKind{
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment"},
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	}
}

type workloadKind struct {
	resource schema.GroupVersionResource
	kind     string
}

// Focus says which migrations are in flight: only their clusters' engine objects
// start passes, and their namespaces are watched in the clusters gitops.workloads
// gives access to. Called after every pass; it starts and stops informers to match.
func (w *Watcher) Focus(targets []Target) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.focus = map[string]bool{}
	want := map[Target]bool{}
	for _, t := range targets {
		w.focus[t.Cluster] = true
		if _, ok := w.workloads[t.Cluster]; ok {
			want[t] = true
		}
	}
	for t, stop := range w.running {
		if !want[t] {
			stop()
			delete(w.running, t)
		}
	}
	if w.ctx == nil || w.ctx.Err() != nil {
		return
	}
	for t := range want {
		if _, ok := w.running[t]; ok {
			continue
		}
		ctx, stop := context.WithCancel(w.ctx)
		w.running[t] = stop
		for _, k := range workloadKinds() {
			informer := newInformer(w.workloads[t.Cluster].Resource(k.resource).Namespace(t.Namespace))
			w.handleErrors(informer, fmt.Sprintf("%ss in %s/%s", k.kind, t.Cluster, t.Namespace))
			changed := func(obj any) {
				if u := object(obj); u != nil {
					w.onChange(Change{Cluster: t.Cluster, Object: fmt.Sprintf("%s %s/%s in %s", k.kind, u.GetNamespace(), u.GetName(), t.Cluster)})
				}
			}
			_, err := informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
				AddFunc: func(obj any, initial bool) {
					if !initial {
						changed(obj)
					}
				},
				UpdateFunc: func(old, obj any) {
					if object(old).GetResourceVersion() != object(obj).GetResourceVersion() {
						changed(obj)
					}
				},
				DeleteFunc: changed,
			})
			if err != nil {
				w.log.Error("watching workloads", "target", t, "err", err)
				continue
			}
			go informer.RunWithContext(ctx)
		}
		w.log.Debug("watching workloads", "cluster", t.Cluster, "namespace", t.Namespace)
	}
}

// handleErrors logs a failing list or watch once per distinct error instead of the
// reflector's line per retry; the informer keeps retrying with backoff.
func (w *Watcher) handleErrors(informer cache.SharedIndexInformer, what string) {
	var last string
	_ = informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		if msg := err.Error(); msg != last {
			last = msg
			w.log.Warn("watch failed; retrying", "watching", what, "err", err)
		}
	})
}

// newInformer is an informer on one kind in one namespace.
func newInformer(client dynamic.ResourceInterface) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			ctx, cancel := context.WithTimeout(ctx, listTimeout)
			defer cancel()
			return client.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (apiwatch.Interface, error) {
			return client.Watch(ctx, opts)
		},
	}
	return cache.NewSharedIndexInformer(lw, &unstructured.Unstructured{}, 0, cache.Indexers{})
}

// syncTimeout bounds how long WaitSynced waits for the engine's first list.
const syncTimeout = time.Minute

// WaitSynced waits until the engine's informer has listed its objects, or ctx ends,
// or a minute passes; it reports whether the informer synced.
func (w *Watcher) WaitSynced(ctx context.Context) bool {
	timer := time.NewTimer(syncTimeout)
	defer timer.Stop()
	select {
	case <-w.synced:
		return true
	case <-ctx.Done():
	case <-timer.C:
	}
	return false
}
