package gitstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// ErrMoved means a push was refused because the remote ref no longer holds what the
// push was built on: read it again, recompute and retry.
var ErrMoved = errors.New("the remote ref moved")

// Update moves one ref on a remote.
type Update struct {
	Ref plumbing.ReferenceName
	New plumbing.Hash
	// Lease, when set, moves the ref only from the commit it names (the zero hash: only
	// when the ref does not exist), whatever the two commits' histories; without a
	// lease the ref only moves forward, to a descendant of what it holds.
	Lease *plumbing.Hash
}

// Push sends u to the remote, the objects New needs with it. The remote checks the
// ref's old value as it updates it, so a concurrent change is never overwritten: the
// push fails with ErrMoved. When the answer is lost, the remote's ref tells whether
// the push landed.
func Push(ctx context.Context, remote *git.Remote, s storer.Storer, auth transport.AuthMethod, u Update) error {
	opts := &git.PushOptions{RemoteName: remote.Config().Name, Auth: auth}
	if u.Lease == nil {
		opts.RefSpecs = []gitconfig.RefSpec{gitconfig.RefSpec(u.New.String() + ":" + u.Ref.String())}
	} else {
		// go-git checks a lease only for a push from a named local ref, and resolves
		// the ref's remote-tracking name on the way even when the lease names the
		// expected commit: both are set here, in a namespace of gitstore's own.
		local := plumbing.ReferenceName("refs/gitmig-lease/" + strings.TrimPrefix(u.Ref.String(), "refs/"))
		tracking := plumbing.ReferenceName("refs/remotes/" + remote.Config().Name + "/" + local.String())
		for _, ref := range []*plumbing.Reference{plumbing.NewHashReference(local, u.New), plumbing.NewHashReference(tracking, *u.Lease)} {
			if err := s.SetReference(ref); err != nil {
				return err
			}
		}
		defer s.RemoveReference(local)
		defer s.RemoveReference(tracking)
		opts.RefSpecs = []gitconfig.RefSpec{gitconfig.RefSpec("+" + local.String() + ":" + u.Ref.String())}
		opts.ForceWithLease = &git.ForceWithLease{RefName: u.Ref, Hash: *u.Lease}
	}
	err := remote.PushContext(ctx, opts)
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	// The push was refused or its answer lost: what the remote now holds tells a race
	// lost, to retry, from a failure to report.
	now, lerr := RemoteRef(ctx, remote, auth, u.Ref)
	switch {
	case lerr != nil:
	case now == u.New:
		return nil
	case rejected(err), u.Lease != nil && now != *u.Lease:
		return fmt.Errorf("pushing %s: %w", u.Ref.Short(), ErrMoved)
	}
	return err
}

// rejected recognises a refusal of a ref update that is not a fast-forward or whose
// lease failed, as go-git and receive-pack report it.
func rejected(err error) bool {
	if errors.Is(err, git.ErrNonFastForwardUpdate) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"non-fast-forward", "fetch first", "failed to update ref", "reference already exists", "stale info"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// RemoteRef asks the remote for the commit a ref holds, the zero hash when it has no
// such ref.
func RemoteRef(ctx context.Context, remote *git.Remote, auth transport.AuthMethod, name plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: auth})
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
