package tree

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"sync"
)

// Disk returns the work tree at dir, read as one revision: the tree remembers what it
// has listed and hashed, so it must not be used across changes to the files. Reads
// stay inside dir: a symbolic link that leads out of it is an error, not followed, so
// a repository cannot make gitmig read files elsewhere on the machine.
func Disk(dir string) (Tree, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository %s: %w", dir, err)
	}
	return &disk{root: root, fsys: root.FS().(rootFS), dirs: map[string]map[string]fs.DirEntry{}, hashes: map[string]string{}}, nil
}

// rootFS is what os.Root's FS offers.
type rootFS interface {
	fs.ReadFileFS
	fs.ReadDirFS
	fs.StatFS
}

type disk struct {
	root *os.Root
	fsys rootFS

	// dirs holds the folders listed so far by path, their entries by name: one
	// listing answers whether each entry is a file or a folder, where a Stat per path
	// costs a walk of the path in the kernel.
	mu     sync.Mutex
	dirs   map[string]map[string]fs.DirEntry
	hashes map[string]string
}

func (d *disk) Open(name string) (fs.File, error)          { return d.fsys.Open(name) }
func (d *disk) ReadFile(name string) ([]byte, error)       { return d.fsys.ReadFile(name) }
func (d *disk) ReadDir(name string) ([]fs.DirEntry, error) { return d.fsys.ReadDir(name) }

// listing returns the entries of a folder by name; nil when it is not a folder.
func (d *disk) listing(dir string) map[string]fs.DirEntry {
	d.mu.Lock()
	entries, ok := d.dirs[dir]
	d.mu.Unlock()
	if ok {
		return entries
	}
	list, err := d.fsys.ReadDir(dir)
	if err == nil {
		entries = make(map[string]fs.DirEntry, len(list))
		for _, e := range list {
			entries[e.Name()] = e
		}
	}
	d.mu.Lock()
	d.dirs[dir] = entries
	d.mu.Unlock()
	return entries
}

// Stat answers from the listing of the path's folder; a symbolic link is resolved by
// the root, which refuses one that leaves it.
func (d *disk) Stat(name string) (fs.FileInfo, error) {
	p, err := Clean(name)
	if err != nil || p == "." {
		return d.fsys.Stat(name)
	}
	e, ok := d.listing(path.Dir(p))[path.Base(p)]
	if !ok {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if e.Type()&fs.ModeSymlink != 0 {
		return d.fsys.Stat(name)
	}
	return e.Info()
}

// Hash reads the file and computes its blob id, once.
func (d *disk) Hash(name string) (string, error) {
	d.mu.Lock()
	h, ok := d.hashes[name]
	d.mu.Unlock()
	if ok {
		return h, nil
	}
	data, err := d.ReadFile(name)
	if err != nil {
		return "", err
	}
	h = BlobHash(data)
	d.mu.Lock()
	d.hashes[name] = h
	d.mu.Unlock()
	return h, nil
}
