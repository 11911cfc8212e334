// Package tree reads the files of one revision of a repository: a git commit, a work
// tree on disk, or either with edits on top. Besides the io/fs methods, a Tree names
// every file by its git blob id, so that a reader can tell whether what it read before
// has changed without reading it again.
//
// Paths are slash-separated and relative to the root, as in io/fs; "." is the root.
package tree

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"strconv"
)

// Tree is a read-only revision of a repository.
type Tree interface {
	fs.ReadFileFS
	fs.ReadDirFS
	fs.StatFS
	// Hash returns the git blob id of the file at name.
	Hash(name string) (string, error)
}

// Edit is one file change, its path relative to the repository root.
type Edit struct {
	Path    string
	Content []byte
	Delete  bool
}

// BlobHash is the id git gives a file of that content.
func BlobHash(data []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(data)) + "\x00"))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// Clean validates and cleans a path given relative to a tree's root, refusing one that
// leaves it.
func Clean(name string) (string, error) {
	p := path.Clean(name)
	if p == ".." || len(p) > 2 && p[:3] == "../" || path.IsAbs(p) {
		return "", fmt.Errorf("%s leaves the repository", name)
	}
	return p, nil
}
