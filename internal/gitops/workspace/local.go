package workspace

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/tree"
)

// Open reads the git repository of a local work tree, as a CI checkout leaves it: the
// base branch is origin's remote-tracking branch (what the remote holds, however old
// the local branch), else the local branch of that name. It fetches nothing; it is for
// reading commits and trees (Tree, ReadFile, OnTop, Differences), not for committing
// or pushing.
func Open(dir, branch string) (*Workspace, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("opening the git repository of %s: %w", dir, err)
	}
	w := &Workspace{opts: Options{Remote: dir, Branch: branch}, repo: repo}
	head, ok, err := w.branch(branch)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s has neither %s/%s nor a branch %s: fetch the base branch (actions/checkout with fetch-depth: 0)", dir, remoteName, branch, branch)
	}
	w.head = head
	return w, nil
}

// branch returns the commit of origin's branch name as last fetched, else of the local
// branch.
func (w *Workspace) branch(name string) (plumbing.Hash, bool, error) {
	for _, ref := range []plumbing.ReferenceName{plumbing.NewRemoteReferenceName(remoteName, name), plumbing.NewBranchReferenceName(name)} {
		r, err := w.repo.Reference(ref, true)
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("reading %s: %w", ref, err)
		}
		return r.Hash(), true, nil
	}
	return plumbing.ZeroHash, false, nil
}

// Resolve finds ref, a branch (origin's, else the local one) or a commit, and returns
// its commit and branch: ref itself for a branch; for a commit, the one branch, local
// or origin's, whose name starts with prefix and which points at it.
func (w *Workspace) Resolve(ref, prefix string) (sha, branch string, err error) {
	h, ok, err := w.branch(ref)
	if err != nil {
		return "", "", err
	}
	if ok {
		return h.String(), ref, nil
	}
	hp, err := w.repo.ResolveRevision(plumbing.Revision(ref))
	if err != nil {
		return "", "", fmt.Errorf("%s is neither a branch (%s/ or local) nor a commit of this repository: %w", ref, remoteName, err)
	}
	refs, err := w.repo.References()
	if err != nil {
		return "", "", err
	}
	found := map[string]bool{}
	err = refs.ForEach(func(r *plumbing.Reference) error {
		if r.Type() != plumbing.HashReference || r.Hash() != *hp {
			return nil
		}
		name := r.Name()
		short := ""
		switch {
		case name.IsBranch():
			short = name.Short()
		case name.IsRemote():
			short, _ = strings.CutPrefix(name.Short(), remoteName+"/")
		}
		if short != "" && strings.HasPrefix(short, prefix) {
			found[short] = true
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) != 1 {
		return "", "", fmt.Errorf("commit %s is the tip of %d branches starting with %s (%s): name the branch instead", hp, len(names), prefix, strings.Join(names, ", "))
	}
	return hp.String(), names[0], nil
}

// Commit is a commit and the first line of its message.
type Commit struct {
	Hash    string
	Subject string
}

// maxOnTop bounds the walk of OnTop; a gitmig branch holds one commit.
const maxOnTop = 50

// OnTop returns the commits that sha has and the base branch (Head) lacks, following
// first parents, newest first, and the base branch commit they start from.
func (w *Workspace) OnTop(sha string) (base string, commits []Commit, err error) {
	c, err := w.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", nil, fmt.Errorf("reading commit %s: %w", sha, err)
	}
	for {
		onBase, err := w.IsAncestor(c.Hash.String(), w.Head())
		if err != nil {
			return "", nil, err
		}
		if onBase {
			return c.Hash.String(), commits, nil
		}
		subject, _, _ := strings.Cut(c.Message, "\n")
		commits = append(commits, Commit{Hash: c.Hash.String(), Subject: subject})
		if len(commits) > maxOnTop {
			return "", nil, fmt.Errorf("commit %s is more than %d commits away from %s", sha, maxOnTop, w.opts.Branch)
		}
		if c.NumParents() == 0 {
			return "", nil, fmt.Errorf("commit %s shares no history with %s", sha, w.opts.Branch)
		}
		if c, err = c.Parent(0); err != nil {
			return "", nil, err
		}
	}
}

// Differences lists the files in which commit head differs from commit parent with
// edits applied, sorted by path: A for a file only head has, D for one only the edited
// parent has, M for one whose content or mode differs.
func (w *Workspace) Differences(parent string, edits []tree.Edit, head string) ([]FileChange, error) {
	want, err := w.blobs(parent)
	if err != nil {
		return nil, err
	}
	for _, e := range edits {
		if e.Delete {
			delete(want, e.Path)
			continue
		}
		// Commit writes every edited file as a regular file.
		want[e.Path] = object.TreeEntry{Mode: filemode.Regular, Hash: plumbing.ComputeHash(plumbing.BlobObject, e.Content)}
	}
	got, err := w.blobs(head)
	if err != nil {
		return nil, err
	}
	var out []FileChange
	for p, g := range got {
		switch wnt, ok := want[p]; {
		case !ok:
			out = append(out, FileChange{Status: "A", Path: p})
		case wnt.Mode != g.Mode || wnt.Hash != g.Hash:
			out = append(out, FileChange{Status: "M", Path: p})
		}
	}
	for p := range want {
		if _, ok := got[p]; !ok {
			out = append(out, FileChange{Status: "D", Path: p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// blobs maps the path of every file in a commit's tree to its mode and blob.
func (w *Workspace) blobs(sha string) (map[string]object.TreeEntry, error) {
	t, err := w.tree(sha)
	if err != nil {
		return nil, err
	}
	out := map[string]object.TreeEntry{}
	err = t.Files().ForEach(func(f *object.File) error {
		out[f.Name] = object.TreeEntry{Mode: f.Mode, Hash: f.Hash}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", sha, err)
	}
	return out, nil
}
