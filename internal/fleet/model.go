package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/tree"
)

// Model is the fleet at one revision: the build of every cluster's overlay, each
// object decoded once, and the indexes that answer where a service runs, which
// clusters route it and what its ports are. It is read-only; With gives the model of
// an edited revision, rebuilding only the overlays the edits change.
type Model struct {
	Config  *config.Config
	Tree    tree.Tree
	builder *Builder
	builds  map[string]*Build
	// running and routed map a Service's namespace/name to the clusters whose builds
	// run its Deployment, or route to it with a traefik.io route of any kind, sorted.
	running map[serviceKey][]string
	routed  map[serviceKey][]string
}

// Load builds every cluster's overlay of t, in parallel. Every build failure is
// reported, together.
func (b *Builder) Load(ctx context.Context, t tree.Tree, cfg *config.Config) (*Model, error) {
	dirs := make([]string, len(cfg.Clusters))
	for i, cl := range cfg.Clusters {
		dirs[i] = cl.Path
	}
	built, errs := b.buildAll(ctx, t, dirs)
	m := &Model{Config: cfg, Tree: t, builder: b, builds: make(map[string]*Build, len(cfg.Clusters))}
	for i, cl := range cfg.Clusters {
		if errs[i] != nil {
			errs[i] = fmt.Errorf("cluster %s: %w", cl.Name, errs[i])
			continue
		}
		m.builds[cl.Name] = built[i]
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if b.cache != nil {
		// Bounding the cache costs a walk of its folder: once per model, not per build.
		_ = b.cache.Prune()
	}
	m.index()
	return m, nil
}

func (m *Model) index() {
	m.running = map[serviceKey][]string{}
	m.routed = map[serviceKey][]string{}
	for _, cluster := range m.Clusters() {
		b := m.builds[cluster]
		for _, objects := range b.deployments {
			for _, o := range objects {
				key := serviceKey{o.Namespace, o.Name}
				m.running[key] = append(m.running[key], cluster)
			}
		}
		for key := range b.routes {
			m.routed[key] = append(m.routed[key], cluster)
		}
	}
	for _, clusters := range m.running {
		slices.Sort(clusters)
	}
	for _, clusters := range m.routed {
		slices.Sort(clusters)
	}
}

// Clusters returns the names of the clusters, sorted.
func (m *Model) Clusters() []string {
	names := make([]string, 0, len(m.builds))
	for name := range m.builds {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Build returns a cluster's build; nil for a cluster gitmig.yaml does not have.
func (m *Model) Build(cluster string) *Build { return m.builds[cluster] }

// With returns the model of the tree with edits applied, sharing the builds that the
// edits leave as they were and rebuilding the others. The receiver is unchanged.
func (m *Model) With(edits []tree.Edit) (*Model, error) {
	after := tree.With(m.Tree, edits)
	next := &Model{Config: m.Config, Tree: after, builder: m.builder, builds: make(map[string]*Build, len(m.builds))}
	var errs []error
	for _, cl := range m.Config.Clusters {
		b := m.builds[cl.Name]
		if b.stillValid(m.Tree, after, edits) {
			next.builds[cl.Name] = b
			continue
		}
		rebuilt, err := m.builder.Build(after, cl.Path)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", cl.Name, err))
			continue
		}
		next.builds[cl.Name] = rebuilt
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	next.index()
	return next, nil
}

// BuildDir builds a folder of the model's tree, such as a service's base.
func (m *Model) BuildDir(dir string) (*Build, error) { return m.builder.Build(m.Tree, dir) }

// Running returns the clusters whose build runs the service's Deployment, sorted.
func (m *Model) Running(svc config.Service) []string {
	return m.running[serviceKey{svc.Namespace, svc.Name}]
}

// RoutedIn returns the clusters whose build has a traefik.io route of any kind
// forwarding to the service, sorted.
func (m *Model) RoutedIn(svc config.Service) []string {
	return m.routed[serviceKey{svc.Namespace, svc.Name}]
}

// Ports returns the ports of the service's Service where it runs: in the first
// cluster, by name, that runs it and does not alias it elsewhere. A service that runs
// nowhere has the ports of its base, built for this alone.
func (m *Model) Ports(svc config.Service) ([]Port, error) {
	for _, cluster := range m.Running(svc) {
		if o, ok := m.builds[cluster].Service(svc.Namespace, svc.Name); ok && !o.Service.IsExternalName() {
			return o.Service.Ports, nil
		}
	}
	base, err := m.BuildDir(svc.Base)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	o, ok := base.Service(svc.Namespace, svc.Name)
	if !ok {
		return nil, fmt.Errorf("service %s: base %s has no Service %s in namespace %s", svc.Name, svc.Base, svc.Name, svc.Namespace)
	}
	return o.Service.Ports, nil
}

// Selector returns the pod selector of the service's Deployment, from the first
// cluster, by name, that runs it; nil where none does.
func (m *Model) Selector(svc config.Service) map[string]string {
	for _, cluster := range m.Running(svc) {
		if o, ok := m.builds[cluster].Deployment(svc.Namespace, svc.Name); ok {
			return o.Deployment.Selector
		}
	}
	return nil
}
