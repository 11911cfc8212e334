package workspace

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/gitops/gitstore"
	"github.com/gitmig/gitmig/internal/tree"
)

// Seed creates a bare repository at dir whose branch holds one commit with the files
// of fsys, and returns that commit. The demo and tests start from it.
func Seed(dir, branch string, fsys fs.FS, authorName, authorEmail string, when time.Time) (string, error) {
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	var edits []tree.Edit
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		edits = append(edits, tree.Edit{Path: p, Content: data})
		return nil
	})
	if err != nil {
		return "", err
	}
	root, err := gitstore.ApplyEdits(repo.Storer, plumbing.ZeroHash, edits)
	if err != nil {
		return "", err
	}
	sig := object.Signature{Name: authorName, Email: authorEmail, When: when.UTC().Truncate(time.Second)}
	h, err := gitstore.WriteCommit(repo.Storer, root, nil, "Seed the fleet repository\n", sig)
	if err != nil {
		return "", err
	}
	ref := plumbing.NewBranchReferenceName(branch)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(ref, h)); err != nil {
		return "", err
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, ref)); err != nil {
		return "", err
	}
	return h.String(), nil
}
