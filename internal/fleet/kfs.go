package fleet

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/tree"
)

// kfs is kustomize's view of a tree: read-only, rooted at "/", and recording every
// question a build asks of it, so that the build can be cached under the answers.
type kfs struct {
	tree tree.Tree
	// exclusive refuses kustomizations with an openapi field, which change a schema
	// that kustomize keeps for the whole process: such builds must not run beside
	// others (see Builder).
	exclusive bool

	mu    sync.Mutex
	reads map[observation]bool
	// uncacheable is set by the questions whose answers the trace does not keep.
	uncacheable bool
	// needsExclusive is set when an exclusive build met an openapi field.
	needsExclusive bool
}

// observation is one question a build asked of the file system.
type observation struct {
	Op   byte // 'f' a file's content, 's' whether a path is a file or folder, 'l' a folder's entries
	Path string
}

var errReadOnly = errors.New("gitmig builds read the repository, they never write it")

// errExclusive stops a build that must run alone.
var errExclusive = errors.New("kustomization sets openapi: its build must run alone")

func newKFS(t tree.Tree, exclusive bool) *kfs {
	return &kfs{tree: t, exclusive: exclusive, reads: map[observation]bool{}}
}

// rel turns a kustomize path into a tree path.
func rel(p string) string {
	p = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(p)), "/")
	if p == "" {
		return "."
	}
	return p
}

func abs(p string) string { return "/" + strings.TrimPrefix(p, ".") }

func (k *kfs) observe(op byte, p string) {
	k.mu.Lock()
	k.reads[observation{op, p}] = true
	k.mu.Unlock()
}

func (k *kfs) trace() (obs []observation, cacheable bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for o := range k.reads {
		obs = append(obs, o)
	}
	slices.SortFunc(obs, func(a, b observation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return int(a.Op) - int(b.Op)
	})
	return obs, !k.uncacheable
}

func (k *kfs) stat(p string) (fs.FileInfo, bool) {
	k.observe('s', p)
	info, err := k.tree.Stat(p)
	return info, err == nil
}

func (k *kfs) Exists(p string) bool {
	_, ok := k.stat(rel(p))
	return ok
}

func (k *kfs) IsDir(p string) bool {
	info, ok := k.stat(rel(p))
	return ok && info.IsDir()
}

func (k *kfs) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r := rel(p)
	info, ok := k.stat(r)
	if !ok {
		return "", "", &fs.PathError{Op: "stat", Path: p, Err: fs.ErrNotExist}
	}
	if info.IsDir() {
		return filesys.ConfirmedDir(abs(r)), "", nil
	}
	return filesys.ConfirmedDir(abs(path.Dir(r))), path.Base(r), nil
}

func (k *kfs) ReadFile(p string) ([]byte, error) {
	r := rel(p)
	k.observe('f', r)
	data, err := k.tree.ReadFile(r)
	if err != nil {
		return nil, err
	}
	if k.exclusive && isKustomizationFile(r) && setsOpenAPI(data) {
		k.mu.Lock()
		k.needsExclusive = true
		k.mu.Unlock()
		return nil, errExclusive
	}
	return data, nil
}

func (k *kfs) ReadDir(p string) ([]string, error) {
	r := rel(p)
	k.observe('l', r)
	entries, err := k.tree.ReadDir(r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

func (k *kfs) Open(p string) (filesys.File, error) {
	r := rel(p)
	data, err := k.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &kfile{Reader: bytes.NewReader(data), info: tree.FileInfo(r, int64(len(data)), false)}, nil
}

// Glob and Walk see more of the tree than a trace keeps: their builds are not cached.
func (k *kfs) Glob(pattern string) ([]string, error) {
	k.mu.Lock()
	k.uncacheable = true
	k.mu.Unlock()
	matches, err := fs.Glob(k.tree, rel(pattern))
	for i, m := range matches {
		matches[i] = abs(m)
	}
	return matches, err
}

func (k *kfs) Walk(p string, walkFn filepath.WalkFunc) error {
	k.mu.Lock()
	k.uncacheable = true
	k.mu.Unlock()
	return fs.WalkDir(k.tree, rel(p), func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return walkFn(abs(name), nil, err)
		}
		info, err := d.Info()
		return walkFn(abs(name), info, err)
	})
}

func (k *kfs) Create(string) (filesys.File, error) { return nil, errReadOnly }
func (k *kfs) Mkdir(string) error                  { return errReadOnly }
func (k *kfs) MkdirAll(string) error               { return errReadOnly }
func (k *kfs) RemoveAll(string) error              { return errReadOnly }
func (k *kfs) WriteFile(string, []byte) error      { return errReadOnly }

type kfile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *kfile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (f *kfile) Close() error               { return nil }
func (f *kfile) Stat() (os.FileInfo, error) { return f.info, nil }

// isKustomizationFile reports a file of one of the names kustomize looks for.
func isKustomizationFile(p string) bool {
	switch path.Base(p) {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// setsOpenAPI reports whether a kustomization has a top-level openapi field.
func setsOpenAPI(data []byte) bool {
	if !bytes.Contains(data, []byte("openapi")) {
		return false
	}
	var doc map[string]any
	if yaml.Unmarshal(data, &doc) != nil {
		return false
	}
	_, ok := doc["openapi"]
	return ok
}
