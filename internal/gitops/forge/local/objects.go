package local

import (
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/gitops/gitstore"
)

// writeCommit stores a commit signed by the forge's author at when.
func (f *Forge) writeCommit(tree plumbing.Hash, parents []plumbing.Hash, message string, when time.Time) (plumbing.Hash, error) {
	sig := object.Signature{Name: f.opts.AuthorName, Email: f.opts.AuthorEmail, When: when}
	return gitstore.WriteCommit(f.store, tree, parents, message, sig)
}
