package tree

import (
	"io/fs"
)

// FromFS reads a tree from any file system, such as files embedded in the binary; a
// file's hash is computed from its content.
func FromFS(fsys fs.FS) Tree { return plainFS{fsys} }

type plainFS struct{ fsys fs.FS }

func (p plainFS) Open(name string) (fs.File, error)          { return p.fsys.Open(name) }
func (p plainFS) ReadFile(name string) ([]byte, error)       { return fs.ReadFile(p.fsys, name) }
func (p plainFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(p.fsys, name) }
func (p plainFS) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(p.fsys, name) }

func (p plainFS) Hash(name string) (string, error) {
	data, err := p.ReadFile(name)
	if err != nil {
		return "", err
	}
	return BlobHash(data), nil
}
