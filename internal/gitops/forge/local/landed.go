package local

import (
	"fmt"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// derive brings the open pull requests in line with the branches, as GitHub does: the
// head SHA follows the head branch, and a pull request whose head is already in its
// base counts as merged (someone merged it by hand). It notes each pull request it
// marks merged in s.notes.
func (s *snapshot) derive() error {
	for i := range s.db.Pulls {
		p := &s.db.Pulls[i]
		if p.State != forge.StateOpen {
			continue
		}
		head := s.headOf(p)
		if head.IsZero() {
			continue
		}
		p.HeadSHA = head.String()
		merged, err := s.markIfLanded(p, head)
		if err != nil {
			return err
		}
		if merged {
			s.notes[p.Number] = fmt.Sprintf("#%d found merged into %s at %s", p.Number, p.Base, p.MergeCommit)
		}
	}
	return nil
}

// headOf returns the head branch's tip, or the recorded head SHA once the branch is
// gone.
func (s *snapshot) headOf(p *Pull) plumbing.Hash {
	if h, ok := s.heads[p.Head]; ok {
		return h
	}
	if plumbing.IsHash(p.HeadSHA) {
		return plumbing.NewHash(p.HeadSHA)
	}
	return plumbing.ZeroHash
}

// markIfLanded records p as merged when head is in p's base, with the base commit that
// brought it in as the merge commit.
func (s *snapshot) markIfLanded(p *Pull, head plumbing.Hash) (bool, error) {
	intro, err := s.introductions(p.Base)
	if err != nil {
		return false, err
	}
	mc, ok := intro[head]
	if !ok {
		return false, nil
	}
	c, err := object.GetCommit(s.f.store, mc)
	if err != nil {
		return false, err
	}
	p.State = forge.StateMerged
	p.HeadSHA = head.String()
	p.MergeCommit = mc.String()
	p.MergedAt = c.Committer.When.UTC().Truncate(time.Second)
	return true, nil
}

// introductions maps every commit of branch base to the commit of base's first-parent
// chain that brought it in: the commit itself when it is on the chain (a fast-forward),
// else the oldest chain commit that has it as an ancestor, which for a merge made with
// `git merge --no-ff` or by Merge is the merge commit whose second parent it is. The
// chain is walked from its root so that each commit is visited once.
func (s *snapshot) introductions(base string) (map[plumbing.Hash]plumbing.Hash, error) {
	if m, ok := s.intro[base]; ok {
		return m, nil
	}
	m := map[plumbing.Hash]plumbing.Hash{}
	s.intro[base] = m
	tip, ok := s.heads[base]
	if !ok {
		return m, nil
	}
	var chain []*object.Commit
	for h := tip; ; {
		c, err := object.GetCommit(s.f.store, h)
		if err != nil {
			return nil, fmt.Errorf("walking %s: %w", base, err)
		}
		chain = append(chain, c)
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		m[c.Hash] = c.Hash
		stack := append([]plumbing.Hash(nil), c.ParentHashes[min(1, len(c.ParentHashes)):]...)
		for len(stack) > 0 {
			h := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if _, seen := m[h]; seen {
				continue
			}
			m[h] = c.Hash
			pc, err := object.GetCommit(s.f.store, h)
			if err != nil {
				return nil, fmt.Errorf("walking %s: %w", base, err)
			}
			stack = append(stack, pc.ParentHashes...)
		}
	}
	return m, nil
}
