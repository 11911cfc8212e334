package fleet

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/openapi"

	"github.com/gitmig/gitmig/internal/traffic"
	"github.com/gitmig/gitmig/internal/tree"
)

// Builder runs kustomize in process on the folders of a tree, in parallel on every
// core, and keeps the results in a Cache when it has one.
//
// A process should use one Builder: kustomize keeps the OpenAPI schema that a
// kustomization's openapi field sets for the whole process, so a Builder runs such a
// build alone and resets the schema after it, while the others wait.
type Builder struct {
	cache   *Cache
	workers int
	// schema is held for reading by every build, and for writing by one that sets
	// kustomize's process-wide OpenAPI schema.
	schema sync.RWMutex
}

// NewBuilder returns a Builder that keeps builds in cache (nil for none) and runs
// workers builds at a time (the number of cores when zero).
func NewBuilder(cache *Cache, workers int) *Builder {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Builder{cache: cache, workers: workers}
}

// BuildError says which folder failed to build and why.
type BuildError struct {
	Dir string
	Err error
}

func (e *BuildError) Error() string { return fmt.Sprintf("kustomize build %s: %v", e.Dir, e.Err) }
func (e *BuildError) Unwrap() error { return e.Err }

// Build builds the kustomization in dir, a folder relative to the tree's root.
func (b *Builder) Build(t tree.Tree, dir string) (*Build, error) {
	dir = rel(dir)
	if b.cache != nil {
		if objects, trace, ok := b.cache.lookup(t, dir); ok {
			return newBuild(dir, objects, trace), nil
		}
	}
	objects, k, err := b.run(t, dir)
	if err != nil {
		return nil, &BuildError{Dir: dir, Err: err}
	}
	trace, cacheable := k.trace()
	if b.cache != nil && cacheable {
		// A cache that cannot be written costs speed, never a result.
		_ = b.cache.store(t, dir, trace, objects)
	}
	return newBuild(dir, objects, trace), nil
}

// run builds dir with kustomize and decodes its objects.
func (b *Builder) run(t tree.Tree, dir string) ([]*Object, *kfs, error) {
	b.schema.RLock()
	k := newKFS(t, true)
	resMap, err := runKustomize(k, dir)
	b.schema.RUnlock()
	if k.needsExclusive {
		b.schema.Lock()
		k = newKFS(t, false)
		resMap, err = runKustomize(k, dir)
		openapi.ResetOpenAPI()
		b.schema.Unlock()
	}
	if err != nil {
		return nil, nil, err
	}
	objects := make([]*Object, 0, resMap.Size())
	for _, res := range resMap.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, nil, err
		}
		o, err := decodeObject(data)
		if err != nil {
			return nil, nil, err
		}
		objects = append(objects, o)
	}
	return objects, k, nil
}

func runKustomize(k *kfs, dir string) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(k, abs(dir))
}

// BuildYAML builds dir and returns the YAML stream kustomize prints, for people to
// read; it does not use the cache.
func (b *Builder) BuildYAML(t tree.Tree, dir string) ([]byte, error) {
	b.schema.Lock()
	defer b.schema.Unlock()
	resMap, err := runKustomize(newKFS(t, false), rel(dir))
	openapi.ResetOpenAPI()
	if err != nil {
		return nil, &BuildError{Dir: rel(dir), Err: err}
	}
	return resMap.AsYaml()
}

// buildAll builds dirs in parallel; the result has a build, or an error, per dir.
func (b *Builder) buildAll(ctx context.Context, t tree.Tree, dirs []string) ([]*Build, []error) {
	builds := make([]*Build, len(dirs))
	errs := make([]error, len(dirs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.workers, len(dirs)) {
		wg.Go(func() {
			for i := range next {
				builds[i], errs[i] = b.Build(t, dirs[i])
			}
		})
	}
feed:
	for i := range dirs {
		select {
		case next <- i:
		case <-ctx.Done():
			for j := i; j < len(dirs); j++ {
				errs[j] = context.Cause(ctx)
			}
			break feed
		}
	}
	close(next)
	wg.Wait()
	return builds, errs
}

// Build is the kustomize build of one folder, indexed.
type Build struct {
	// Dir is the folder built, relative to the tree's root.
	Dir     string
	Objects []*Object
	// trace is what the build read of the tree.
	trace []observation
	// read maps each path the build asked about to the questions it asked.
	read map[string][]byte

	byKey  map[objectKey]*Object
	routes map[serviceKey][]*Object
	// entryPoints tells, per Traefik entry point, what the build routes through it.
	entryPoints map[string]traffic.EntryPointUse
	namespaces  map[string]bool
	// deployments lists the Deployments of each namespace.
	deployments map[string][]*Object
}

type objectKey struct{ group, kind, namespace, name string }

type serviceKey struct{ namespace, name string }

func newBuild(dir string, objects []*Object, trace []observation) *Build {
	b := &Build{
		Dir:         dir,
		Objects:     objects,
		trace:       trace,
		read:        make(map[string][]byte, len(trace)),
		byKey:       make(map[objectKey]*Object, len(objects)),
		routes:      map[serviceKey][]*Object{},
		entryPoints: map[string]traffic.EntryPointUse{},
		namespaces:  map[string]bool{},
		deployments: map[string][]*Object{},
	}
	for _, o := range trace {
		b.read[o.Path] = append(b.read[o.Path], o.Op)
	}
	for _, o := range objects {
		key := objectKey{o.Group(), o.Kind, o.Namespace, o.Name}
		if _, dup := b.byKey[key]; !dup {
			b.byKey[key] = o
		}
		switch {
		case o.Kind == "Namespace" && o.Group() == "":
			b.namespaces[o.Name] = true
		case o.Deployment != nil:
			b.deployments[o.Namespace] = append(b.deployments[o.Namespace], o)
		case o.IngressRoute != nil && o.Group() == TraefikGroup:
			services := routedServices(o)
			for _, svc := range services {
				b.routes[svc] = append(b.routes[svc], o)
			}
			for _, ep := range o.IngressRoute.EntryPoints {
				use := b.entryPoints[ep]
				use.CatchAll = use.CatchAll || o.CatchesAll()
				for _, svc := range services {
					if ref := svc.namespace + "/" + svc.name; !slices.Contains(use.Services, ref) {
						use.Services = append(use.Services, ref)
					}
				}
				b.entryPoints[ep] = use
			}
		}
	}
	for _, use := range b.entryPoints {
		slices.Sort(use.Services)
	}
	return b
}

// routedServices lists the Kubernetes Services a Traefik route forwards to, once each.
func routedServices(o *Object) []serviceKey {
	var keys []serviceKey
	for _, route := range o.IngressRoute.Routes {
		for _, s := range route.Services {
			key := serviceKey{s.NamespaceIn(o), s.Name}
			if s.IsService() && !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

// Find returns the object of that API group ("" for the core group), kind, namespace
// and name.
func (b *Build) Find(group, kind, namespace, name string) (*Object, bool) {
	o, ok := b.byKey[objectKey{group, kind, namespace, name}]
	return o, ok
}

// Service returns the core/v1 Service namespace/name, when the build has one that
// reads; Malformed ones are not returned.
func (b *Build) Service(namespace, name string) (*Object, bool) {
	o, ok := b.Find("", "Service", namespace, name)
	return o, ok && o.Service != nil
}

// Deployment returns the apps/v1 Deployment namespace/name.
func (b *Build) Deployment(namespace, name string) (*Object, bool) {
	o, ok := b.Find("apps", "Deployment", namespace, name)
	return o, ok && o.Deployment != nil
}

// HasNamespace reports whether the build defines Namespace name.
func (b *Build) HasNamespace(name string) bool { return b.namespaces[name] }

// Deployments returns the Deployments of a namespace.
func (b *Build) Deployments(namespace string) []*Object { return b.deployments[namespace] }

// RoutesTo returns the traefik.io routes of every kind (IngressRoute, IngressRouteTCP,
// IngressRouteUDP) that forward to Service namespace/name.
func (b *Build) RoutesTo(namespace, name string) []*Object {
	return b.routes[serviceKey{namespace, name}]
}

// EntryPoints tells, per entry point named by the build's traefik.io routes, what they
// send through it: the Services, sorted, and whether one route takes every connection
// (Object.CatchesAll).
func (b *Build) EntryPoints() map[string]traffic.EntryPointUse { return b.entryPoints }

// stillValid reports whether the build reads the same from after as from before,
// which differs from it by edits: whether the answers to every question it asked
// about an edited path, or a folder above one, are unchanged.
func (b *Build) stillValid(before, after tree.Tree, edits []tree.Edit) bool {
	seen := map[string]bool{}
	for _, e := range edits {
		for p := rel(e.Path); !seen[p]; p = parent(p) {
			seen[p] = true
			for _, op := range b.read[p] {
				o := observation{op, p}
				if fingerprint(before, o) != fingerprint(after, o) {
					return false
				}
			}
			if p == "." {
				break
			}
		}
	}
	return true
}

func parent(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

// BuilderFromEnv returns a Builder with the cache that CacheDirEnv selects. It always
// returns a Builder: when the cache cannot be opened, the error says why and the
// Builder builds without one, as slower is better than failing.
func BuilderFromEnv(getenv func(string) string) (*Builder, error) {
	dir, err := DefaultCacheDir(getenv)
	if err != nil || dir == "" {
		return NewBuilder(nil, 0), err
	}
	cache, err := OpenCache(dir, DefaultCacheSize)
	if err != nil {
		return NewBuilder(nil, 0), fmt.Errorf("building without a cache: %w (set %s to a writable folder, or to off)", err, CacheDirEnv)
	}
	return NewBuilder(cache, 0), nil
}
