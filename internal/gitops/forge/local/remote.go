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
	return fmt.Errorf("fetching from %s: %w", f.url, err)
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

// push moves the remote's ref from old (zero: absent) to commit, without force. It
// returns errMoved when the ref was not old any more, so the caller can refetch and
// retry. Callers hold f.mu.
func (f *Forge) push(ctx context.Context, ref plumbing.ReferenceName, old, commit plumbing.Hash) error {
	if f.beforePush != nil {
		if err := f.beforePush(ref); err != nil {
			return err
		}
	}
	spec := gitconfig.RefSpec(commit.String() + ":" + ref.String())
	err := f.remote.PushContext(ctx, &git.PushOptions{
		RefSpecs: []gitconfig.RefSpec{spec},
		Auth:     f.opts.Auth,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	// The push was refused or its answer lost: what the remote now holds tells a lost
	// race, to retry, from a failure to report.
	now, lerr := f.remoteRef(ctx, ref)
	switch {
	case lerr != nil:
	case now == commit:
		return f.store.SetReference(plumbing.NewHashReference(ref, commit))
	case now != old:
		return fmt.Errorf("pushing %s to %s: %w", ref, f.url, errMoved)
	}
	return fmt.Errorf("pushing %s to %s: %w", ref, f.url, err)
}

// remoteRef asks the remote for the current value of name.
func (f *Forge) remoteRef(ctx context.Context, name plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := f.remote.ListContext(ctx, &git.ListOptions{Auth: f.opts.Auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, r := range refs {
		if r.Name() == name && r.Type() == plumbing.HashReference {
			return r.Hash(), nil
		}
	}
	return plumbing.ZeroHash, nil
}
