package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitmig/gitmig/internal/config"
)

// Repo is a GitOps repository tree: the overlays of gitmig.yaml's clusters and the bases
// of its services, on disk or in memory.
type Repo struct {
	fs     filesys.FileSystem
	root   string
	config *config.Config
}

// NewRepo returns the repository rooted at root in fsys.
func NewRepo(fsys filesys.FileSystem, root string, cfg *config.Config) *Repo {
	return &Repo{fs: fsys, root: root, config: cfg}
}

// LoadRepo copies the work tree at dir (without .git) into memory, so that edits can be
// tried and built without touching the disk.
func LoadRepo(dir string, cfg *config.Config) (*Repo, error) {
	r, err := FromFS(os.DirFS(dir), cfg)
	if err != nil {
		return nil, fmt.Errorf("loading repository %s: %w", dir, err)
	}
	return r, nil
}

// FromFS copies a repository tree (without .git) into memory.
func FromFS(fsys fs.FS, cfg *config.Config) (*Repo, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/", p), data)
	})
	if err != nil {
		return nil, err
	}
	return NewRepo(mem, "/", cfg), nil
}

// Config returns the gitmig.yaml the repository is read with.
func (r *Repo) Config() *config.Config { return r.config }

func (r *Repo) abs(rel string) string { return path.Join(r.root, rel) }

// ReadFile reads a file by its path relative to the repository root.
func (r *Repo) ReadFile(rel string) ([]byte, error) {
	return r.fs.ReadFile(r.abs(rel))
}

// Exists reports whether a path relative to the repository root exists.
func (r *Repo) Exists(rel string) bool { return r.fs.Exists(r.abs(rel)) }

// Apply writes edits into the repository tree.
func (r *Repo) Apply(edits []Edit) error {
	for _, e := range edits {
		if e.Delete {
			if err := r.fs.RemoveAll(r.abs(e.Path)); err != nil {
				return fmt.Errorf("deleting %s: %w", e.Path, err)
			}
			continue
		}
		if err := r.fs.MkdirAll(path.Dir(r.abs(e.Path))); err != nil {
			return fmt.Errorf("writing %s: %w", e.Path, err)
		}
		if err := r.fs.WriteFile(r.abs(e.Path), e.Content); err != nil {
			return fmt.Errorf("writing %s: %w", e.Path, err)
		}
	}
	return nil
}

// With returns an in-memory copy of the repository with edits applied; the receiver is
// left as it was.
func (r *Repo) With(edits []Edit) (*Repo, error) {
	mem := filesys.MakeFsInMemory()
	err := r.fs.Walk(r.root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			if info.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, r.root), "/")
		data, err := r.fs.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/", rel), data)
	})
	if err != nil {
		return nil, fmt.Errorf("copying repository: %w", err)
	}
	copied := NewRepo(mem, "/", r.config)
	return copied, copied.Apply(edits)
}

// OverlayPath returns the overlay folder of a cluster, relative to the repository root.
func (r *Repo) OverlayPath(cluster string) (string, error) {
	cl, ok := r.config.Cluster(cluster)
	if !ok {
		return "", fmt.Errorf("unknown cluster %q: gitmig.yaml defines %s", cluster, strings.Join(r.clusterNames(), ", "))
	}
	return cl.Path, nil
}

func (r *Repo) clusterNames() []string {
	var names []string
	for _, cl := range r.config.Clusters {
		names = append(names, cl.Name)
	}
	return names
}

// BuildError says which folder failed to build and why.
type BuildError struct {
	Dir string
	Err error
}

func (e *BuildError) Error() string { return fmt.Sprintf("kustomize build %s: %v", e.Dir, e.Err) }
func (e *BuildError) Unwrap() error { return e.Err }

// BuildDir runs kustomize on a folder relative to the repository root.
func (r *Repo) BuildDir(dir string) ([]Object, []byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(r.fs, r.abs(dir))
	if err != nil {
		return nil, nil, &BuildError{Dir: dir, Err: err}
	}
	yml, err := resMap.AsYaml()
	if err != nil {
		return nil, nil, &BuildError{Dir: dir, Err: err}
	}
	var objects []Object
	for _, res := range resMap.Resources() {
		raw, err := res.Map()
		if err != nil {
			return nil, nil, &BuildError{Dir: dir, Err: err}
		}
		objects = append(objects, Object{
			APIVersion: res.GetApiVersion(),
			Kind:       res.GetKind(),
			Name:       res.GetName(),
			Namespace:  res.GetNamespace(),
			Raw:        raw,
		})
	}
	return objects, yml, nil
}

// Build is the kustomize build of one cluster's overlay.
type Build struct {
	Cluster string
	Objects []Object
	// YAML is the build's output as `kustomize build` prints it.
	YAML []byte
}

// Build runs kustomize on a cluster's overlay.
func (r *Repo) Build(cluster string) (*Build, error) {
	dir, err := r.OverlayPath(cluster)
	if err != nil {
		return nil, err
	}
	objects, yml, err := r.BuildDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cluster, err)
	}
	return &Build{Cluster: cluster, Objects: objects, YAML: yml}, nil
}

// Find returns the object of that kind, namespace and name, whatever its API version.
func (b *Build) Find(kind, namespace, name string) (Object, bool) {
	for _, o := range b.Objects {
		if o.Kind == kind && o.Name == name && o.Namespace == namespace {
			return o, true
		}
	}
	return Object{}, false
}

// HasNamespace reports whether the build defines Namespace name.
func (b *Build) HasNamespace(name string) bool {
	_, ok := b.Find("Namespace", "", name)
	return ok
}

// Model is the kustomize build of every cluster's overlay.
type Model struct {
	repo   *Repo
	Builds map[string]*Build
	ports  map[string][]Port
}

// Model builds every cluster's overlay. All build failures are reported together.
func (r *Repo) Model() (*Model, error) {
	m := &Model{repo: r, Builds: map[string]*Build{}, ports: map[string][]Port{}}
	var errs []error
	for _, cl := range r.config.Clusters {
		b, err := r.Build(cl.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Builds[cl.Name] = b
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// Running returns the clusters whose build has the service's Deployment, sorted.
func (m *Model) Running(service string) []string {
	svc, ok := m.repo.config.Service(service)
	if !ok {
		return nil
	}
	var clusters []string
	for _, cl := range m.repo.config.Clusters {
		if b := m.Builds[cl.Name]; b != nil {
			if _, ok := b.Find("Deployment", svc.Namespace, svc.Name); ok {
				clusters = append(clusters, cl.Name)
			}
		}
	}
	return sortedUnique(clusters)
}

// RoutedIn returns the clusters whose build has a traefik.io IngressRoute forwarding to
// the service, sorted.
func (m *Model) RoutedIn(service string) []string {
	svc, ok := m.repo.config.Service(service)
	if !ok {
		return nil
	}
	var clusters []string
	for name, b := range m.Builds {
		if len(routesTo(b, svc.Name, svc.Namespace)) > 0 {
			clusters = append(clusters, name)
		}
	}
	return sortedUnique(clusters)
}

// routesTo returns the traefik.io IngressRoutes of a build that forward to Service
// name in namespace.
func routesTo(b *Build, name, namespace string) []*IngressRoute {
	var found []*IngressRoute
	for _, o := range b.Objects {
		if o.Kind != "IngressRoute" || o.Group() != TraefikGroup {
			continue
		}
		ir, err := o.IngressRoute()
		if err != nil {
			continue
		}
		for _, route := range ir.Spec.Routes {
			if slices.ContainsFunc(route.Services, func(s RouteService) bool {
				return s.Name == name && routeNamespace(s, o) == namespace && (s.Kind == "" || s.Kind == "Service")
			}) {
				found = append(found, ir)
				break
			}
		}
	}
	return found
}

// routeNamespace is the namespace of a route's service: its own, or the IngressRoute's.
func routeNamespace(s RouteService, ir Object) string {
	if s.Namespace != "" {
		return s.Namespace
	}
	return ir.Namespace
}

// Port is one port of a service.
type Port struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"`
}

// Ports returns the ports of the service's Service as its base defines them.
func (m *Model) Ports(service string) ([]Port, error) {
	if ports, ok := m.ports[service]; ok {
		return ports, nil
	}
	ports, err := m.repo.BasePorts(service)
	if err != nil {
		return nil, err
	}
	m.ports[service] = ports
	return ports, nil
}

// BasePorts builds a service's base and returns the ports of its Service.
func (r *Repo) BasePorts(service string) ([]Port, error) {
	o, err := r.baseObject(service, "Service")
	if err != nil {
		return nil, err
	}
	s, err := o.Service()
	if err != nil {
		return nil, err
	}
	ports := make([]Port, 0, len(s.Spec.Ports))
	for _, p := range s.Spec.Ports {
		ports = append(ports, Port{Name: p.Name, Port: p.Port, Protocol: string(p.Protocol)})
	}
	return ports, nil
}

// BaseSelector builds a service's base and returns the pod selector of its Deployment.
func (r *Repo) BaseSelector(service string) (map[string]string, error) {
	o, err := r.baseObject(service, "Deployment")
	if err != nil {
		return nil, err
	}
	d, err := o.Deployment()
	if err != nil || d.Spec.Selector == nil {
		return nil, err
	}
	return d.Spec.Selector.MatchLabels, nil
}

// baseObject builds a service's base and returns its object of a kind, named after the
// service in the service's namespace.
func (r *Repo) baseObject(service, kind string) (Object, error) {
	svc, ok := r.config.Service(service)
	if !ok {
		return Object{}, fmt.Errorf("unknown service %q", service)
	}
	objects, _, err := r.BuildDir(svc.Base)
	if err != nil {
		return Object{}, fmt.Errorf("service %s: %w", service, err)
	}
	for _, o := range objects {
		if o.Kind == kind && o.Name == svc.Name && o.Namespace == svc.Namespace {
			return o, nil
		}
	}
	return Object{}, fmt.Errorf("service %s: base %s has no %s %s in namespace %s", service, svc.Base, kind, svc.Name, svc.Namespace)
}
