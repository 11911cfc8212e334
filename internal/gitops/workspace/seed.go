package workspace

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/render"
)

// Seed creates a bare repository at dir whose branch holds one commit with the files
// of fsys, and returns that commit. The demo and tests start from it.
func Seed(dir, branch string, fsys fs.FS, authorName, authorEmail string, when time.Time) (string, error) {
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	edits := map[string]render.Edit{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		edits[p] = render.Edit{Path: p, Content: data}
		return nil
	})
	if err != nil {
		return "", err
	}
	root, _, err := writeTree(repo.Storer, nil, edits)
	if err != nil {
		return "", err
	}
	sig := object.Signature{Name: authorName, Email: authorEmail, When: when.UTC().Truncate(time.Second)}
	commit := &object.Commit{Author: sig, Committer: sig, Message: "Seed the fleet repository\n", TreeHash: root}
	obj := repo.Storer.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return "", err
	}
	h, err := repo.Storer.SetEncodedObject(obj)
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
