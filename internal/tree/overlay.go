package tree

import (
	"io/fs"
	"path"
	"slices"
	"strings"
)

// With returns base with edits on top, without copying base: what the edits write
// reads from them, what they delete is gone, the rest reads from base. Later edits of
// a path win over earlier ones.
func With(base Tree, edits []Edit) Tree {
	o := &overlay{base: base, files: map[string]Edit{}, dirs: map[string]bool{".": true}}
	for _, e := range edits {
		p := path.Clean(e.Path)
		o.files[p] = e
		if e.Delete {
			continue
		}
		for dir := path.Dir(p); !o.dirs[dir]; dir = path.Dir(dir) {
			o.dirs[dir] = true
		}
	}
	return o
}

type overlay struct {
	base  Tree
	files map[string]Edit
	// dirs are the folders the written files need.
	dirs map[string]bool
}

func notExist(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

func (o *overlay) ReadFile(name string) ([]byte, error) {
	if e, ok := o.files[path.Clean(name)]; ok {
		if e.Delete {
			return nil, notExist("read", name)
		}
		return e.Content, nil
	}
	return o.base.ReadFile(name)
}

func (o *overlay) Hash(name string) (string, error) {
	if e, ok := o.files[path.Clean(name)]; ok {
		if e.Delete {
			return "", notExist("hash", name)
		}
		return BlobHash(e.Content), nil
	}
	return o.base.Hash(name)
}

func (o *overlay) Stat(name string) (fs.FileInfo, error) {
	p := path.Clean(name)
	if e, ok := o.files[p]; ok {
		if e.Delete {
			return nil, notExist("stat", name)
		}
		return fileInfo{name: path.Base(p), size: int64(len(e.Content))}, nil
	}
	if o.dirs[p] {
		return fileInfo{name: path.Base(p), dir: true}, nil
	}
	return o.base.Stat(name)
}

func (o *overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	p := path.Clean(name)
	entries, err := o.base.ReadDir(name)
	if err != nil && !o.dirs[p] {
		return nil, err
	}
	byName := map[string]fs.DirEntry{}
	for _, e := range entries {
		byName[e.Name()] = e
	}
	prefix := p + "/"
	if p == "." {
		prefix = ""
	}
	for f, e := range o.files {
		rest, ok := strings.CutPrefix(f, prefix)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		if e.Delete {
			delete(byName, rest)
		} else {
			byName[rest] = fs.FileInfoToDirEntry(fileInfo{name: rest, size: int64(len(e.Content))})
		}
	}
	for d := range o.dirs {
		if rest, ok := strings.CutPrefix(d, prefix); ok && d != "." && !strings.Contains(rest, "/") {
			byName[rest] = fs.FileInfoToDirEntry(fileInfo{name: rest, dir: true})
		}
	}
	out := make([]fs.DirEntry, 0, len(byName))
	for _, e := range byName {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (o *overlay) Open(name string) (fs.File, error) { return Open(o, name) }
