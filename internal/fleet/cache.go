package fleet

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitmig/gitmig/internal/tree"
)

// CacheDirEnv overrides where builds are cached; "off" turns the cache off.
const CacheDirEnv = "GITMIG_CACHE_DIR"

// DefaultCacheSize bounds the cache: past it, the builds used least recently go.
const DefaultCacheSize = 512 << 20

// cacheFormat changes whenever what a cached build holds changes, so that an older
// cache is never read as a newer one.
const cacheFormat = "2"

// Cache keeps kustomize builds on disk between runs, as Argo CD's repo-server keeps
// manifests per revision and path. A build is stored under the answers to every
// question it asked of the tree (the blob id of each file it read, whether each path
// it looked for was a file or a folder, the entries of each folder it listed), with
// the version of kustomize that ran it: a build is reused only where kustomize would
// read exactly the same, so the cache never changes a result. After a merge, only the
// overlays that read a file the merge changed are built again.
//
// The cache may be deleted at any time; a missing, partial or unreadable entry is a
// miss. It is bounded by size, the entries used least recently going first.
type Cache struct {
	dir      string
	maxBytes int64
	// mu orders this process's updates of the manifests, the lists of questions per
	// folder; other processes may race on them, which costs a miss at worst.
	mu sync.Mutex
}

// DefaultCacheDir is $GITMIG_CACHE_DIR, or gitmig/builds in the user's cache folder
// ($XDG_CACHE_HOME, else ~/.cache, on Linux); "" when the cache is off.
func DefaultCacheDir(getenv func(string) string) (string, error) {
	switch dir := getenv(CacheDirEnv); dir {
	case "off":
		return "", nil
	case "":
	default:
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding a cache folder (set %s, or %s=off): %w", CacheDirEnv, CacheDirEnv, err)
	}
	return filepath.Join(base, "gitmig", "builds"), nil
}

// OpenCache opens, creating it when missing, the cache in dir, bounded to maxBytes.
func OpenCache(dir string, maxBytes int64) (*Cache, error) {
	versioned := filepath.Join(dir, "v"+cacheFormat+"-"+hashHex(builtBy())[:16])
	for _, sub := range []string{"manifests", "builds"} {
		if err := os.MkdirAll(filepath.Join(versioned, sub), 0o755); err != nil {
			return nil, fmt.Errorf("build cache: %w", err)
		}
	}
	return &Cache{dir: versioned, maxBytes: maxBytes}, nil
}

// builtBy names the code that builds and decodes: a released or committed gitmig
// names its kustomize; any other build, such as one from a work tree with changes, is
// named by its executable, so a cache is never read by code that would build or
// decode differently from the code that wrote it.
func builtBy() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return executable()
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	release := info.Main.Version != "" && info.Main.Version != "(devel)"
	committed := settings["vcs.revision"] != "" && settings["vcs.modified"] == "false"
	if !release && !committed {
		return executable()
	}
	name := info.Main.Path + "@" + info.Main.Version + "+" + settings["vcs.revision"]
	for _, dep := range info.Deps {
		if strings.HasPrefix(dep.Path, "sigs.k8s.io/kustomize/") {
			if dep.Replace != nil {
				dep = dep.Replace
			}
			name += " " + dep.Path + "@" + dep.Version
		}
	}
	return name
}

// executable names the running binary by its path, size and modification time.
func executable() string {
	path, err := os.Executable()
	if err != nil {
		return "unknown executable"
	}
	info, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s %d %d", path, info.Size(), info.ModTime().UnixNano())
}

// maxTracesPerDir is how many different sets of questions are remembered for one
// folder: a revert brings an older set back.
const maxTracesPerDir = 4

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (c *Cache) manifestPath(dir string) string {
	return filepath.Join(c.dir, "manifests", hashHex(dir)[:32]+".json")
}

func (c *Cache) buildPath(key string) string {
	return filepath.Join(c.dir, "builds", key[:2], key+".gob")
}

// manifest is the questions that earlier builds of one folder asked.
type manifest struct {
	Dir    string          `json:"dir"`
	Traces [][]observation `json:"traces"`
}

func (c *Cache) readManifest(dir string) manifest {
	m := manifest{Dir: dir}
	data, err := os.ReadFile(c.manifestPath(dir))
	if err != nil || json.Unmarshal(data, &m) != nil || m.Dir != dir {
		return manifest{Dir: dir}
	}
	return m
}

// key names a build of dir by the answers t gives to the questions of trace.
func key(t tree.Tree, dir string, trace []observation) string {
	var b strings.Builder
	b.WriteString("gitmig build\x00")
	b.WriteString(dir)
	for _, o := range trace {
		b.WriteByte(0)
		b.WriteByte(o.Op)
		b.WriteString(o.Path)
		b.WriteByte(0)
		b.WriteString(fingerprint(t, o))
	}
	return hashHex(b.String())
}

// fingerprint is the answer t gives to one question.
func fingerprint(t tree.Tree, o observation) string {
	switch o.Op {
	case 'f':
		if h, err := t.Hash(o.Path); err == nil {
			return h
		}
	case 's':
		if info, err := t.Stat(o.Path); err == nil {
			if info.IsDir() {
				return "dir"
			}
			return "file"
		}
	case 'l':
		entries, err := t.ReadDir(o.Path)
		if err != nil {
			break
		}
		var b strings.Builder
		for _, e := range entries {
			b.WriteString(e.Name())
			if e.IsDir() {
				b.WriteByte('/')
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	return "absent"
}

// lookup finds a build of dir that asked questions t answers as it did then.
func (c *Cache) lookup(t tree.Tree, dir string) ([]*Object, []observation, bool) {
	c.mu.Lock()
	m := c.readManifest(dir)
	c.mu.Unlock()
	for _, trace := range m.Traces {
		p := c.buildPath(key(t, dir, trace))
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var objects []*Object
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&objects); err != nil {
			os.Remove(p)
			continue
		}
		// The modification time orders entries for eviction.
		now := time.Now()
		_ = os.Chtimes(p, now, now)
		return objects, trace, true
	}
	return nil, nil, false
}

// store keeps a build of dir under the answers t gives to the questions it asked.
func (c *Cache) store(t tree.Tree, dir string, trace []observation, objects []*Object) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(objects); err != nil {
		return err
	}
	if err := writeAtomic(c.buildPath(key(t, dir, trace)), buf.Bytes()); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.readManifest(dir)
	m.Traces = slices.DeleteFunc(m.Traces, func(old []observation) bool { return slices.Equal(old, trace) })
	m.Traces = append([][]observation{trace}, m.Traces...)
	if len(m.Traces) > maxTracesPerDir {
		m.Traces = m.Traces[:maxTracesPerDir]
	}
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return writeAtomic(c.manifestPath(dir), data)
}

// writeAtomic writes data to path through a temporary file, so that a reader, in this
// process or another, never sees a partial file.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// Prune removes the builds used least recently until the cache is within its bound.
func (c *Cache) Prune() error {
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var entries []entry
	var total int64
	err := filepath.WalkDir(filepath.Join(c.dir, "builds"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		entries = append(entries, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil || total <= c.maxBytes {
		return err
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.used.Compare(b.used) })
	// Down to three quarters, so that the next runs do not prune again at once.
	for _, e := range entries {
		if total <= c.maxBytes*3/4 {
			break
		}
		if err := os.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.size
		}
	}
	return nil
}
