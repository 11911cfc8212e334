// Package gitstore is where gitmig makes and reads git objects: blobs, trees and
// commits written into a go-git object store without a work tree, trees read as
// gitmig's tree.Tree, and refs moved on a remote only from the value they were read
// at. The workspace and the local forge both go through it.
package gitstore

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitmig/gitmig/internal/tree"
)

// Entry is a file of a tree: its blob (or submodule commit) and mode.
type Entry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// Files maps the slash-separated path of every non-tree entry of a tree to its entry.
type Files map[string]Entry

// WriteBlob stores data as a blob.
func WriteBlob(s storer.EncodedObjectStorer, data []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(data)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// writeTreeObject stores one tree, its entries in git's order.
func writeTreeObject(s storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	sort.Sort(object.TreeEntrySorter(entries))
	obj := s.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// WriteFiles stores the nested trees that hold files and returns the root's hash. A
// path that is a file in one place and a folder in another is an error naming both.
func WriteFiles(s storer.EncodedObjectStorer, files Files) (plumbing.Hash, error) {
	// Group every path under each of its folders, so each tree is written once its
	// subtrees are.
	children := map[string]map[string]bool{"": {}}
	for p := range files {
		for dir, name := path.Split(p); ; dir, name = path.Split(strings.TrimSuffix(dir, "/")) {
			d := strings.TrimSuffix(dir, "/")
			if children[d] == nil {
				children[d] = map[string]bool{}
			}
			children[d][name] = true
			if d == "" {
				break
			}
		}
	}
	var write func(dir string) (plumbing.Hash, error)
	write = func(dir string) (plumbing.Hash, error) {
		var entries []object.TreeEntry
		for name := range children[dir] {
			p := path.Join(dir, name)
			_, isDir := children[p]
			e, isFile := files[p]
			switch {
			case isDir && isFile:
				return plumbing.ZeroHash, fmt.Errorf("%s is a file on one side and a folder on the other", p)
			case isDir:
				h, err := write(p)
				if err != nil {
					return plumbing.ZeroHash, err
				}
				entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
			default:
				entries = append(entries, object.TreeEntry{Name: name, Mode: e.Mode, Hash: e.Hash})
			}
		}
		return writeTreeObject(s, entries)
	}
	return write("")
}

// ReadFiles flattens the tree with hash root.
func ReadFiles(s storer.EncodedObjectStorer, root plumbing.Hash) (Files, error) {
	t, err := object.GetTree(s, root)
	if err != nil {
		return nil, err
	}
	files := Files{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	// The paths are only compared and carried into new trees, never checked out.
	w.SkipPathValidation()
	for {
		name, e, err := w.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			files[name] = Entry{Hash: e.Hash, Mode: e.Mode}
		}
	}
}

// ApplyEdits stores the tree that results from applying edits to the tree base (zero
// for an empty one) and returns its hash. Only the folders on an edited path are
// written again; a folder left empty goes, as git keeps no empty folders.
func ApplyEdits(s storer.EncodedObjectStorer, base plumbing.Hash, edits []tree.Edit) (plumbing.Hash, error) {
	byPath := map[string]tree.Edit{}
	for _, e := range edits {
		byPath[path.Clean(e.Path)] = e
	}
	var baseTree *object.Tree
	if !base.IsZero() {
		t, err := object.GetTree(s, base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		baseTree = t
	}
	h, _, err := applyEdits(s, baseTree, byPath)
	return h, err
}

// applyEdits writes the tree of base with edits (paths relative to it); empty reports
// a tree left without entries.
func applyEdits(s storer.EncodedObjectStorer, base *object.Tree, edits map[string]tree.Edit) (plumbing.Hash, bool, error) {
	entries := map[string]object.TreeEntry{}
	if base != nil {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string]map[string]tree.Edit{}
	for p, e := range edits {
		dir, rest, nested := strings.Cut(p, "/")
		if nested {
			if sub[dir] == nil {
				sub[dir] = map[string]tree.Edit{}
			}
			sub[dir][rest] = e
			continue
		}
		if e.Delete {
			delete(entries, p)
			continue
		}
		h, err := WriteBlob(s, e.Content)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		entries[p] = object.TreeEntry{Name: p, Mode: filemode.Regular, Hash: h}
	}
	for dir, dirEdits := range sub {
		var subtree *object.Tree
		if existing, ok := entries[dir]; ok && existing.Mode == filemode.Dir {
			t, err := object.GetTree(s, existing.Hash)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			subtree = t
		}
		h, empty, err := applyEdits(s, subtree, dirEdits)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if empty {
			delete(entries, dir)
			continue
		}
		entries[dir] = object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h}
	}
	list := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, e)
	}
	h, err := writeTreeObject(s, list)
	return h, len(list) == 0, err
}

// WriteCommit stores a commit of tree with parents, authored and committed by sig.
func WriteCommit(s storer.EncodedObjectStorer, root plumbing.Hash, parents []plumbing.Hash, message string, sig object.Signature) (plumbing.Hash, error) {
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     root,
		ParentHashes: parents,
	}
	obj := s.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// ReadFile returns the content of the file at name in a commit's tree; ok is false
// when there is none.
func ReadFile(s storer.EncodedObjectStorer, commit plumbing.Hash, name string) (data []byte, ok bool, err error) {
	c, err := object.GetCommit(s, commit)
	if err != nil {
		return nil, false, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	f, err := c.File(name)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s in commit %s: %w", name, commit, err)
	}
	r, err := f.Reader()
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	data, err = io.ReadAll(r)
	return data, err == nil, err
}
