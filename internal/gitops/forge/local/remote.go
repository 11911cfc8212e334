package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/gitmig/gitmig/internal/gitops/gitstore"
)

// errMoved reports that a push lost a race: the remote ref is no longer the commit the
// change was built on.
var errMoved = errors.New("remote ref moved")

// mirrorSpecs are the refs the forge needs: every branch, for heads, bases and the
// commits that statuses are set on, and the forge's own refs.
func mirrorSpecs() []gitconfig.RefSpec {
	return []gitconfig.RefSpec{
		"+refs/heads/*:refs/heads/*",
		"+refs/gitmig/*:refs/gitmig/*",
	}
}

// endpoint returns the remote as go-git should reach it (a local path made absolute)
// and as pull request URLs show it (without credentials).
func endpoint(remote string) (transportURL, display string, err error) {
	ep, err := transport.NewEndpoint(remote)
	if err != nil {
		return "", "", fmt.Errorf("remote %q: %w", remote, err)
	}
	if ep.Protocol == "file" {
		abs, err := filepath.Abs(ep.Path)
		if err != nil {
			return "", "", fmt.Errorf("remote %q: %w", remote, err)
		}
		return abs, abs, nil
	}
	// A URL may carry a token as its password, or as its user with some servers.
	shown := *ep
	shown.Password = ""
	if shown.Protocol == "http" || shown.Protocol == "https" {
		shown.User = ""
	}
	return remote, shown.String(), nil
}

// fetch brings the mirror up to date with the remote, deleting the refs the remote no
// longer has. Callers hold f.mu.
func (f *Forge) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, f.opts.CallTimeout)
	defer cancel()
	err := f.remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: mirrorSpecs(),
		Tags:     git.NoTags,
		Prune:    true,
		Force:    true,
		Auth:     f.opts.Auth,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return f.clearRefs()
	}
	return fmt.Errorf("fetching from %s: %w", f.url, f.redact.Error(err))
}

func (f *Forge) clearRefs() error {
	refs, err := f.store.IterReferences()
	if err != nil {
		return err
	}
	var names []plumbing.ReferenceName
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		names = append(names, r.Name())
		return nil
	})
	for _, n := range names {
		if err := f.store.RemoveReference(n); err != nil {
			return err
		}
	}
	return nil
}

// branches returns the mirror's branches and their tips.
func (f *Forge) branches() (map[string]plumbing.Hash, error) {
	refs, err := f.store.IterReferences()
	if err != nil {
		return nil, err
	}
	heads := map[string]plumbing.Hash{}
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && r.Name().IsBranch() {
			heads[r.Name().Short()] = r.Hash()
		}
		return nil
	})
	return heads, err
}

// ref returns the mirror's value of name, or the zero hash when it has none.
func (f *Forge) ref(name plumbing.ReferenceName) (plumbing.Hash, error) {
	r, err := f.store.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return r.Hash(), nil
}

// push moves the remote's ref from old (zero: absent) to commit, only from old. It
// returns errMoved when the ref was not old any more, so the caller can refetch and
// retry. Callers hold f.mu.
func (f *Forge) push(ctx context.Context, ref plumbing.ReferenceName, old, commit plumbing.Hash) error {
	if f.beforePush != nil {
		if err := f.beforePush(ref); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.opts.CallTimeout)
	defer cancel()
	err := gitstore.Push(ctx, f.remote, f.store, f.opts.Auth, gitstore.Update{Ref: ref, New: commit, Lease: &old})
	if errors.Is(err, gitstore.ErrMoved) {
		return fmt.Errorf("pushing %s to %s: %w", ref, f.url, errMoved)
	}
	if err != nil {
		return fmt.Errorf("pushing %s to %s: %w", ref, f.url, f.redact.Error(err))
	}
	return f.store.SetReference(plumbing.NewHashReference(ref, commit))
}
