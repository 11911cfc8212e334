package local

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gitstore"
)

// ConflictError reports that a pull request's head and its base changed the same
// paths since they diverged, so Merge made no commit: what GitHub shows as "This
// branch has conflicts that must be resolved".
type ConflictError struct {
	Number     int
	Head, Base string
	// Paths are changed differently on both sides, or are a file on one side and a
	// directory on the other.
	Paths []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("pull request #%d has conflicts: %s and %s both changed %s since they diverged; merge %s into %s by hand and push it",
		e.Number, e.Head, e.Base, strings.Join(e.Paths, ", "), e.Base, e.Head)
}

// Merge merges open pull request n into its base with a merge commit whose parents are
// the base and the head, pushed without force, then records it as merged. A base that
// moved meanwhile is refetched and the merge made again. A pull request whose head is
// already in its base (merged by hand, or by a Merge interrupted between its two
// pushes) is only recorded. Merging a closed pull request is an error.
func (f *Forge) Merge(ctx context.Context, n int, head string) (forge.PullRequest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for attempt := 1; ; attempt++ {
		s, err := f.load(ctx)
		if err != nil {
			return forge.PullRequest{}, err
		}
		if err := s.derive(); err != nil {
			return forge.PullRequest{}, err
		}
		p, err := s.db.pull(n)
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("merge: %w", err)
		}
		switch p.State {
		case forge.StateClosed:
			return forge.PullRequest{}, fmt.Errorf("merge #%d: it is closed without merge; open a new pull request from %s", n, p.Head)
		case forge.StateMerged:
			return f.recordMerge(ctx, n)
		}
		if tip := s.headOf(p); head != "" && tip.String() != head {
			return forge.PullRequest{}, fmt.Errorf("merge #%d at %s: its head is %s: %w", n, head, tip, forge.ErrHeadMoved)
		}
		baseTip, ok := s.heads[p.Base]
		if !ok {
			return forge.PullRequest{}, fmt.Errorf("merge #%d: base branch %s is not on %s", n, p.Base, f.url)
		}
		commit, err := f.mergeCommit(p, baseTip, s.headOf(p))
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("merge #%d: %w", n, err)
		}
		err = f.push(ctx, plumbing.NewBranchReferenceName(p.Base), baseTip, commit)
		if errors.Is(err, errMoved) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return forge.PullRequest{}, fmt.Errorf("merge #%d: %w", n, err)
		}
		return f.recordMerge(ctx, n)
	}
}

// recordMerge records pull request n as merged once its head is in its base. Callers
// hold f.mu.
func (f *Forge) recordMerge(ctx context.Context, n int) (forge.PullRequest, error) {
	var out Pull
	err := f.update(ctx, func(s *snapshot) (string, error) {
		p, err := s.db.pull(n)
		if err != nil {
			return "", err
		}
		// A Close racing this Merge may have recorded the pull request as closed after
		// the base took it; the base is the truth.
		if p.State != forge.StateMerged {
			ok, err := s.markIfLanded(p, s.headOf(p))
			if err != nil {
				return "", err
			}
			if !ok {
				return "", fmt.Errorf("merge #%d: %s does not contain %s after the merge was pushed", n, p.Base, p.HeadSHA)
			}
		}
		delete(s.notes, n)
		out = *p
		return fmt.Sprintf("merge #%d into %s at %s", n, p.Base, p.MergeCommit), nil
	})
	if err != nil {
		return forge.PullRequest{}, err
	}
	return out.PullRequest(), nil
}

// mergeCommit writes the merge commit of p's head into baseTip. Its tree is the
// head's when the base has not moved since the head branched off; otherwise the files
// the head changed since the merge base are applied to the base's tree, and a path the
// base changed differently is a conflict.
func (f *Forge) mergeCommit(p *Pull, baseTip, head plumbing.Hash) (plumbing.Hash, error) {
	baseC, err := object.GetCommit(f.store, baseTip)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("base %s: %w", p.Base, err)
	}
	headC, err := object.GetCommit(f.store, head)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("head %s (%s) is not on %s: %w", p.Head, head, f.url, err)
	}
	bases, err := baseC.MergeBase(headC)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if len(bases) == 0 {
		return plumbing.ZeroHash, fmt.Errorf("%s and %s have no common history", p.Head, p.Base)
	}
	tree := headC.TreeHash
	if mb := bases[0]; mb.Hash != baseTip {
		// Criss-cross histories have several merge bases; any one gives a sound
		// file-level merge, if a more conservative one.
		if tree, err = f.mergeTrees(p, mb, baseC, headC); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	msg := fmt.Sprintf("Merge pull request #%d from %s\n\n%s\n", p.Number, p.Head, p.Title)
	return f.writeCommit(tree, []plumbing.Hash{baseTip, head}, msg, f.now())
}

// mergeTrees is a three-way merge at file granularity.
func (f *Forge) mergeTrees(p *Pull, mergeBase, base, head *object.Commit) (plumbing.Hash, error) {
	var fs [3]gitstore.Files
	for i, c := range []*object.Commit{mergeBase, base, head} {
		var err error
		if fs[i], err = gitstore.ReadFiles(f.store, c.TreeHash); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	ours, theirs := changes(fs[0], fs[1]), changes(fs[0], fs[2])
	result := gitstore.Files{}
	for name, e := range fs[1] {
		result[name] = e
	}
	var conflicts []string
	for name, e := range theirs {
		if o, ok := ours[name]; ok && !sameChange(o, e) {
			conflicts = append(conflicts, name)
			continue
		}
		if e == nil {
			delete(result, name)
		} else {
			result[name] = *e
		}
	}
	// A file where the other side now has a directory cannot be in one tree.
	for name := range result {
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if _, ok := result[dir]; ok {
				conflicts = append(conflicts, dir, name)
			}
		}
	}
	if len(conflicts) > 0 {
		slices.Sort(conflicts)
		return plumbing.ZeroHash, &ConflictError{Number: p.Number, Head: p.Head, Base: p.Base, Paths: slices.Compact(conflicts)}
	}
	return gitstore.WriteFiles(f.store, result)
}

// changes returns the paths whose entry differs between from and to, with the new
// entry, nil for a deletion.
func changes(from, to gitstore.Files) map[string]*gitstore.Entry {
	out := map[string]*gitstore.Entry{}
	for name, e := range from {
		if t, ok := to[name]; !ok {
			out[name] = nil
		} else if t != e {
			out[name] = &t
		}
	}
	for name, t := range to {
		if _, ok := from[name]; !ok {
			out[name] = &t
		}
	}
	return out
}

func sameChange(a, b *gitstore.Entry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
