// Package workspace is gitmig's git boundary: an in-memory clone of the GitOps
// repository's base branch, from which it reads trees, writes commits without a work
// tree, and pushes step branches and record commits. go-git types stay in here.
package workspace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitmig/gitmig/internal/gitops/gitstore"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/tree"
)

const remoteName = "origin"

// Options say where the repository is and who commits.
type Options struct {
	// Remote is an HTTPS URL or a local path of the repository.
	Remote string
	// Branch is the base branch.
	Branch string
	// Token authenticates HTTPS pushes and fetches as x-access-token; empty for none.
	Token       string
	AuthorName  string
	AuthorEmail string
	Now         func() time.Time
	// CallTimeout bounds each exchange with the remote (a clone, a fetch, a push), so
	// that a server that accepts and never answers fails the call instead of holding
	// the pass; DefaultCallTimeout when zero.
	CallTimeout time.Duration
}

// DefaultCallTimeout bounds one exchange with the remote.
const DefaultCallTimeout = 2 * time.Minute

// call is the context of one exchange with the remote.
func (w *Workspace) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, w.opts.CallTimeout)
}

// Workspace is a clone of the base branch.
type Workspace struct {
	opts   Options
	redact *redact.Redactor
	repo   *git.Repository
	auth   transport.AuthMethod
	head   plumbing.Hash
}

// ErrRejected means the remote refused a push because the ref moved since it was read:
// refetch, recompute and try again.
var ErrRejected = errors.New("push rejected: the remote ref moved")

// Clone fetches the base branch (single branch, no tags, full history, since gitmig
// pushes from it) into memory.
func Clone(ctx context.Context, opts Options) (*Workspace, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	w := &Workspace{opts: opts, redact: redact.New(opts.Token)}
	if opts.Token != "" {
		w.auth = &http.BasicAuth{Username: "x-access-token", Password: opts.Token}
	}
	ctx, cancel := w.call(ctx)
	defer cancel()
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL:           opts.Remote,
		Auth:          w.auth,
		RemoteName:    remoteName,
		ReferenceName: plumbing.NewBranchReferenceName(opts.Branch),
		SingleBranch:  true,
		Tags:          git.NoTags,
	})
	if err != nil {
		return nil, fmt.Errorf("cloning %s branch %s: %w", w.remoteLabel(), opts.Branch, w.scrub(err))
	}
	w.repo = repo
	return w, w.readHead()
}

// remoteLabel names the remote in messages without any credentials.
func (w *Workspace) remoteLabel() string { return redact.URL(w.opts.Remote) }

// scrub takes the token, in every form a server may echo it in, out of an error.
func (w *Workspace) scrub(err error) error { return w.redact.Error(err) }

func (w *Workspace) readHead() error {
	ref, err := w.repo.Reference(plumbing.NewRemoteReferenceName(remoteName, w.opts.Branch), true)
	if err != nil {
		return fmt.Errorf("reading %s: %w", w.opts.Branch, err)
	}
	w.head = ref.Hash()
	return nil
}

// Head is the base branch's commit as last fetched.
func (w *Workspace) Head() string { return w.head.String() }

// Branch is the base branch's name.
func (w *Workspace) Branch() string { return w.opts.Branch }

// Fetch updates the base branch from the remote.
func (w *Workspace) Fetch(ctx context.Context) error {
	ctx, cancel := w.call(ctx)
	defer cancel()
	spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%[1]s:refs/remotes/%[2]s/%[1]s", w.opts.Branch, remoteName))
	err := w.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: w.auth, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetching %s: %w", w.opts.Branch, w.scrub(err))
	}
	return w.readHead()
}

// FetchBranch fetches one branch of the remote and returns its commit.
func (w *Workspace) FetchBranch(ctx context.Context, branch string) (string, error) {
	ctx, cancel := w.call(ctx)
	defer cancel()
	spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%[1]s:refs/remotes/%[2]s/%[1]s", branch, remoteName))
	err := w.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: w.auth, Tags: git.NoTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return "", fmt.Errorf("fetching %s: %w", branch, w.scrub(err))
	}
	ref, err := w.repo.Reference(plumbing.NewRemoteReferenceName(remoteName, branch), true)
	if err != nil {
		return "", err
	}
	return ref.Hash().String(), nil
}

// RemoteBranches lists the remote's branches whose names start with prefix, with
// their commits.
func (w *Workspace) RemoteBranches(ctx context.Context, prefix string) (map[string]string, error) {
	ctx, cancel := w.call(ctx)
	defer cancel()
	remote, err := w.repo.Remote(remoteName)
	if err != nil {
		return nil, err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{Auth: w.auth})
	if err != nil {
		return nil, fmt.Errorf("listing branches of %s: %w", w.remoteLabel(), w.scrub(err))
	}
	out := map[string]string{}
	for _, ref := range refs {
		name := ref.Name()
		if name.IsBranch() && strings.HasPrefix(name.Short(), prefix) {
			out[name.Short()] = ref.Hash().String()
		}
	}
	return out, nil
}

// Tree returns the tree of a commit, read from the clone as it is asked for.
func (w *Workspace) Tree(sha string) (tree.Tree, error) {
	return gitstore.Tree(w.repo.Storer, plumbing.NewHash(sha))
}

// ReadFile reads one file at a commit; ok is false when it does not exist.
func (w *Workspace) ReadFile(sha, name string) (data []byte, ok bool, err error) {
	return gitstore.ReadFile(w.repo.Storer, plumbing.NewHash(sha), name)
}

func (w *Workspace) tree(sha string) (*object.Tree, error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", sha, err)
	}
	return c.Tree()
}

// FirstParent returns the first parent of a commit: for a merge commit, the base it
// was merged into.
func (w *Workspace) FirstParent(sha string) (string, error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", sha, err)
	}
	if c.NumParents() == 0 {
		return "", fmt.Errorf("commit %s has no parent", short(sha))
	}
	return c.ParentHashes[0].String(), nil
}

// MergeBase returns the best common ancestor of commits a and b.
func (w *Workspace) MergeBase(a, b string) (string, error) {
	ca, err := w.repo.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", a, err)
	}
	cb, err := w.repo.CommitObject(plumbing.NewHash(b))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", b, err)
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", err
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("commits %s and %s share no history", short(a), short(b))
	}
	return bases[0].Hash.String(), nil
}

// Diff is the unified diff from commit from's tree to commit to's, as git diff
// prints it.
func (w *Workspace) Diff(from, to string) (string, error) {
	a, err := w.tree(from)
	if err != nil {
		return "", err
	}
	b, err := w.tree(to)
	if err != nil {
		return "", err
	}
	patch, err := a.Patch(b)
	if err != nil {
		return "", fmt.Errorf("diffing %s and %s: %w", short(from), short(to), err)
	}
	return patch.String(), nil
}

// maxRemovedWalk bounds how far back Removed walks the base branch.
const maxRemovedWalk = 10000

// Removed finds the commit of the base branch, walking first parents back from head,
// that removed path: the newest commit that lacks it while its first parent has it.
// It returns that commit and when it was committed.
func (w *Workspace) Removed(head, path string) (string, time.Time, error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(head))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading commit %s: %w", head, err)
	}
	var child *object.Commit
	for range maxRemovedWalk {
		t, err := c.Tree()
		if err != nil {
			return "", time.Time{}, err
		}
		_, err = t.FindEntry(path)
		switch {
		case err == nil && child == nil:
			return "", time.Time{}, fmt.Errorf("%s is still on %s", path, head)
		case err == nil:
			return child.Hash.String(), child.Committer.When, nil
		case !errors.Is(err, object.ErrEntryNotFound) && !errors.Is(err, object.ErrDirectoryNotFound):
			return "", time.Time{}, err
		}
		if c.NumParents() == 0 {
			break
		}
		child = c
		if c, err = c.Parent(0); err != nil {
			return "", time.Time{}, err
		}
	}
	return "", time.Time{}, fmt.Errorf("no commit within %d first parents of %s removed %s", maxRemovedWalk, head, path)
}

// Author names who made a commit: "name <email>".
func (w *Workspace) Author(sha string) (string, error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", sha, err)
	}
	return fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email), nil
}

// Parent returns the one parent of a commit; a commit with none or several is an
// error.
func (w *Workspace) Parent(sha string) (string, error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", fmt.Errorf("reading commit %s: %w", sha, err)
	}
	if len(c.ParentHashes) != 1 {
		return "", fmt.Errorf("commit %s has %d parents", sha, len(c.ParentHashes))
	}
	return c.ParentHashes[0].String(), nil
}

// SameTree reports whether two commits have the same tree.
func (w *Workspace) SameTree(a, b string) (bool, error) {
	ta, err := w.tree(a)
	if err != nil {
		return false, err
	}
	tb, err := w.tree(b)
	if err != nil {
		return false, err
	}
	return ta.Hash == tb.Hash, nil
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) commit b; false
// when either has not been fetched.
func (w *Workspace) IsAncestor(a, b string) (bool, error) {
	if a == b {
		return true, nil
	}
	ca, err := w.repo.CommitObject(plumbing.NewHash(a))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cb, err := w.repo.CommitObject(plumbing.NewHash(b))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return ca.IsAncestor(cb)
}

// Descends reports whether sha is ancestor or a commit after it on the base branch.
// A commit newer than the last fetch is fetched, without moving Head, so the pass keeps
// working on the tree it read.
func (w *Workspace) Descends(ctx context.Context, ancestor, sha string) (bool, error) {
	if _, err := w.repo.CommitObject(plumbing.NewHash(sha)); errors.Is(err, plumbing.ErrObjectNotFound) {
		ctx, cancel := w.call(ctx)
		defer cancel()
		spec := gitconfig.RefSpec(fmt.Sprintf("+refs/heads/%[1]s:refs/gitmig-probe/%[1]s", w.opts.Branch))
		err := w.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: w.auth, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return false, fmt.Errorf("fetching %s: %w", w.opts.Branch, w.scrub(err))
		}
	}
	return w.IsAncestor(ancestor, sha)
}

// Commit writes a commit with the edits on top of parent, without a work tree, and
// returns its hash. Nothing is pushed.
func (w *Workspace) Commit(parent string, edits []tree.Edit, message string) (string, error) {
	base, err := w.tree(parent)
	if err != nil {
		return "", err
	}
	root, err := gitstore.ApplyEdits(w.repo.Storer, base.Hash, edits)
	if err != nil {
		return "", err
	}
	sig := object.Signature{Name: w.opts.AuthorName, Email: w.opts.AuthorEmail, When: w.opts.Now().UTC().Truncate(time.Second)}
	h, err := gitstore.WriteCommit(w.repo.Storer, root, []plumbing.Hash{plumbing.NewHash(parent)}, message, sig)
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// PushBranch creates or fast-forwards a branch on the remote to sha. A branch that
// moved elsewhere is not overwritten: ErrRejected.
func (w *Workspace) PushBranch(ctx context.Context, branch, sha string) error {
	return w.push(ctx, gitstore.Update{Ref: plumbing.NewBranchReferenceName(branch), New: plumbing.NewHash(sha)})
}

// ReplaceBranch sets a branch to sha only while it holds old, whatever their
// histories: a branch that changed since it was read is not overwritten
// (ErrRejected).
func (w *Workspace) ReplaceBranch(ctx context.Context, branch, old, sha string) error {
	lease := plumbing.NewHash(old)
	return w.push(ctx, gitstore.Update{Ref: plumbing.NewBranchReferenceName(branch), New: plumbing.NewHash(sha), Lease: &lease})
}

// PushBase moves the base branch from Head to sha, a descendant of it; ErrRejected
// when the base moved since it was fetched. On success Head is sha.
func (w *Workspace) PushBase(ctx context.Context, sha string) error {
	lease := w.head
	if err := w.push(ctx, gitstore.Update{Ref: plumbing.NewBranchReferenceName(w.opts.Branch), New: plumbing.NewHash(sha), Lease: &lease}); err != nil {
		return err
	}
	w.head = plumbing.NewHash(sha)
	return w.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewRemoteReferenceName(remoteName, w.opts.Branch), w.head))
}

func (w *Workspace) push(ctx context.Context, u gitstore.Update) error {
	ctx, cancel := w.call(ctx)
	defer cancel()
	remote, err := w.repo.Remote(remoteName)
	if err != nil {
		return err
	}
	err = gitstore.Push(ctx, remote, w.repo.Storer, w.auth, u)
	if errors.Is(err, gitstore.ErrMoved) {
		return fmt.Errorf("pushing %s: %w", u.Ref.Short(), ErrRejected)
	}
	if err != nil {
		return fmt.Errorf("pushing %s to %s: %w", u.Ref.Short(), w.remoteLabel(), w.scrub(err))
	}
	return nil
}

// DeleteBranch removes a branch from the remote; a missing branch is not an error.
func (w *Workspace) DeleteBranch(ctx context.Context, branch string) error {
	ctx, cancel := w.call(ctx)
	defer cancel()
	spec := gitconfig.RefSpec(":refs/heads/" + branch)
	err := w.repo.PushContext(ctx, &git.PushOptions{RemoteName: remoteName, RefSpecs: []gitconfig.RefSpec{spec}, Auth: w.auth})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("deleting branch %s: %w", branch, w.scrub(err))
	}
	return nil
}

// FileChange is one file a commit adds (A), modifies (M) or deletes (D).
type FileChange struct {
	Status string
	Path   string
}

// Changes lists the files that differ between two commits' trees, sorted by path.
func (w *Workspace) Changes(from, to string) ([]FileChange, error) {
	a, err := w.tree(from)
	if err != nil {
		return nil, err
	}
	b, err := w.tree(to)
	if err != nil {
		return nil, err
	}
	diff, err := object.DiffTree(a, b)
	if err != nil {
		return nil, err
	}
	var out []FileChange
	for _, c := range diff {
		switch {
		case c.From.Name == "":
			out = append(out, FileChange{Status: "A", Path: c.To.Name})
		case c.To.Name == "":
			out = append(out, FileChange{Status: "D", Path: c.From.Name})
		default:
			out = append(out, FileChange{Status: "M", Path: c.To.Name})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ConflictError lists the files a revert cannot restore because a later commit changed
// them too.
type ConflictError struct {
	Commit string
	Paths  []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("cannot revert %s cleanly: later commits changed %s", e.Commit, strings.Join(e.Paths, ", "))
}

// Revert returns the edits that undo, on top of head, what merge changed against its
// first parent, for the files that keep selects. A file changed again since is a
// *ConflictError: gitmig never guesses at someone else's edit.
func (w *Workspace) Revert(merge, head string, keep func(path string) bool) ([]tree.Edit, error) {
	mc, err := w.repo.CommitObject(plumbing.NewHash(merge))
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", merge, err)
	}
	if len(mc.ParentHashes) == 0 {
		return nil, fmt.Errorf("commit %s has no parent to revert to", merge)
	}
	before, err := w.tree(mc.ParentHashes[0].String())
	if err != nil {
		return nil, err
	}
	after, err := mc.Tree()
	if err != nil {
		return nil, err
	}
	now, err := w.tree(head)
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTree(before, after)
	if err != nil {
		return nil, err
	}
	var edits []tree.Edit
	conflict := &ConflictError{Commit: merge}
	for _, c := range changes {
		name := c.To.Name
		if name == "" {
			name = c.From.Name
		}
		if !keep(name) {
			continue
		}
		want, wantOK, err := fileContent(after, name)
		if err != nil {
			return nil, err
		}
		got, gotOK, err := fileContent(now, name)
		if err != nil {
			return nil, err
		}
		if wantOK != gotOK || want != got {
			conflict.Paths = append(conflict.Paths, name)
			continue
		}
		old, oldOK, err := fileContent(before, name)
		if err != nil {
			return nil, err
		}
		if !oldOK {
			edits = append(edits, tree.Edit{Path: name, Delete: true})
		} else {
			edits = append(edits, tree.Edit{Path: name, Content: []byte(old)})
		}
	}
	if len(conflict.Paths) > 0 {
		return nil, conflict
	}
	return edits, nil
}

func fileContent(tree *object.Tree, name string) (string, bool, error) {
	f, err := tree.File(name)
	if errors.Is(err, object.ErrFileNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	s, err := f.Contents()
	return s, err == nil, err
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
