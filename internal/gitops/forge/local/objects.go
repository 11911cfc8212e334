package local

import (
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// entry is a file of a tree: its blob (or submodule commit) and mode.
type entry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// files maps the slash-separated path of every non-tree entry of a tree to its entry.
type files map[string]entry

// writeBlob stores data as a blob.
func (f *Forge) writeBlob(data []byte) (plumbing.Hash, error) {
	obj := f.store.NewEncodedObject()
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
	return f.store.SetEncodedObject(obj)
}

// readFile returns the content of the file at name in commit's tree.
func (f *Forge) readFile(commit plumbing.Hash, name string) ([]byte, error) {
	c, err := object.GetCommit(f.store, commit)
	if err != nil {
		return nil, err
	}
	file, err := c.File(name)
	if err != nil {
		return nil, fmt.Errorf("%s in commit %s: %w", name, commit, err)
	}
	r, err := file.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// writeTree stores the nested trees that hold fs and returns the root's hash. A path
// that is a file in one place and a directory in another is an error naming both.
func (f *Forge) writeTree(fs files) (plumbing.Hash, error) {
	// Group every path under each of its directories, so each tree is written once
	// its subtrees are.
	children := map[string]map[string]bool{"": {}}
	for p := range fs {
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
		t := &object.Tree{}
		for name := range children[dir] {
			p := path.Join(dir, name)
			_, isDir := children[p]
			e, isFile := fs[p]
			switch {
			case isDir && isFile:
				return plumbing.ZeroHash, fmt.Errorf("%s is a file on one side and a directory on the other", p)
			case isDir:
				h, err := write(p)
				if err != nil {
					return plumbing.ZeroHash, err
				}
				t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
			default:
				t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: e.Mode, Hash: e.Hash})
			}
		}
		sort.Sort(object.TreeEntrySorter(t.Entries))
		obj := f.store.NewEncodedObject()
		if err := t.Encode(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		return f.store.SetEncodedObject(obj)
	}
	return write("")
}

// treeFiles flattens the tree of commit c.
func treeFiles(c *object.Commit) (files, error) {
	t, err := c.Tree()
	if err != nil {
		return nil, err
	}
	fs := files{}
	w := object.NewTreeWalker(t, true, nil)
	defer w.Close()
	// The paths are only compared and carried into new trees, never checked out.
	w.SkipPathValidation()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			return fs, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			fs[name] = entry{Hash: e.Hash, Mode: e.Mode}
		}
	}
}

// writeCommit stores a commit signed by the forge's author at when.
func (f *Forge) writeCommit(tree plumbing.Hash, parents []plumbing.Hash, message string, when time.Time) (plumbing.Hash, error) {
	sig := object.Signature{Name: f.opts.AuthorName, Email: f.opts.AuthorEmail, When: when}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     tree,
		ParentHashes: parents,
	}
	obj := f.store.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return f.store.SetEncodedObject(obj)
}
