package tree

import (
	"fmt"
	"io/fs"
	"os"
)

// Disk returns the work tree at dir. Reads stay inside dir: a symbolic link that leads
// out of it is an error, not followed, so a repository cannot make gitmig read files
// elsewhere on the machine.
func Disk(dir string) (Tree, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the repository %s: %w", dir, err)
	}
	return disk{root.FS().(rootFS)}, nil
}

// rootFS is what os.Root's FS offers.
type rootFS interface {
	fs.ReadFileFS
	fs.ReadDirFS
	fs.StatFS
}

type disk struct{ rootFS }

// Hash reads the file and computes its blob id.
func (d disk) Hash(name string) (string, error) {
	data, err := d.ReadFile(name)
	if err != nil {
		return "", err
	}
	return BlobHash(data), nil
}
