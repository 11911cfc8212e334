package gitstore

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitmig/gitmig/internal/tree"
)

// Tree returns the tree of a commit as a tree.Tree. Files are read from the store when
// asked for, not before; a file's hash is its blob id, read from its folder's entry.
// Symbolic links and submodules read as errors: a build never follows a link out of
// the commit.
func Tree(s storer.EncodedObjectStorer, commit plumbing.Hash) (tree.Tree, error) {
	c, err := object.GetCommit(s, commit)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading the tree of commit %s: %w", commit, err)
	}
	return &gitTree{store: s, root: root, trees: map[string]*object.Tree{".": root}}, nil
}

type gitTree struct {
	store storer.EncodedObjectStorer
	root  *object.Tree
	// trees caches the folders read so far, by path; builds run in parallel.
	mu    sync.Mutex
	trees map[string]*object.Tree
}

// dir returns the folder at p.
func (g *gitTree) dir(p string) (*object.Tree, error) {
	g.mu.Lock()
	t, ok := g.trees[p]
	g.mu.Unlock()
	if ok {
		return t, nil
	}
	parent, err := g.dir(path.Dir(p))
	if err != nil {
		return nil, err
	}
	e, err := find(parent, path.Base(p))
	if err != nil {
		return nil, err
	}
	if e.Mode != filemode.Dir {
		return nil, fs.ErrNotExist
	}
	if t, err = object.GetTree(g.store, e.Hash); err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.trees[p] = t
	g.mu.Unlock()
	return t, nil
}

func find(t *object.Tree, name string) (object.TreeEntry, error) {
	for _, e := range t.Entries {
		if e.Name == name {
			return e, nil
		}
	}
	return object.TreeEntry{}, fs.ErrNotExist
}

// entry returns the entry at name; the root is a folder entry of its own.
func (g *gitTree) entry(op, name string) (object.TreeEntry, error) {
	p, err := tree.Clean(name)
	if err != nil {
		return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if p == "." {
		return object.TreeEntry{Name: ".", Mode: filemode.Dir, Hash: g.root.Hash}, nil
	}
	parent, err := g.dir(path.Dir(p))
	if err == nil {
		var e object.TreeEntry
		if e, err = find(parent, path.Base(p)); err == nil {
			return e, nil
		}
	}
	return object.TreeEntry{}, &fs.PathError{Op: op, Path: name, Err: err}
}

// file returns the regular file entry at name.
func (g *gitTree) file(op, name string) (object.TreeEntry, error) {
	e, err := g.entry(op, name)
	if err != nil {
		return e, err
	}
	switch e.Mode {
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		return e, nil
	case filemode.Dir:
		return e, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("is a folder")}
	case filemode.Symlink:
		return e, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("is a symbolic link, which gitmig does not follow")}
	}
	return e, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("is a submodule, which gitmig does not read")}
}

func (g *gitTree) ReadFile(name string) ([]byte, error) {
	e, err := g.file("read", name)
	if err != nil {
		return nil, err
	}
	blob, err := object.GetBlob(g.store, e.Hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (g *gitTree) Hash(name string) (string, error) {
	e, err := g.file("hash", name)
	if err != nil {
		return "", err
	}
	return e.Hash.String(), nil
}

func (g *gitTree) Stat(name string) (fs.FileInfo, error) {
	e, err := g.entry("stat", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir {
		return tree.FileInfo(name, 0, true), nil
	}
	return tree.FileInfo(name, 0, false), nil
}

func (g *gitTree) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := tree.Clean(name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrInvalid}
	}
	t, err := g.dir(p)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	entries := make([]fs.DirEntry, 0, len(t.Entries))
	for _, e := range t.Entries {
		entries = append(entries, fs.FileInfoToDirEntry(tree.FileInfo(e.Name, 0, e.Mode == filemode.Dir)))
	}
	// Git orders a folder as if its name ended in "/"; io/fs orders by name.
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

func (g *gitTree) Open(name string) (fs.File, error) { return tree.Open(g, name) }
