package local

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// Create opens a pull request from pr.Head into pr.Base (Options.Base when empty), or
// returns the one already open for pr.Head. Find and create are one forge commit, so
// racing Creates for one head make one pull request. Like GitHub, it refuses a head
// branch the remote lacks or one with no commits beyond the base.
func (f *Forge) Create(ctx context.Context, pr forge.NewPullRequest) (forge.PullRequest, error) {
	if pr.Base == "" {
		pr.Base = f.opts.Base
	}
	switch {
	case strings.TrimSpace(pr.Title) == "":
		return forge.PullRequest{}, errors.New("create pull request: empty title")
	case pr.Head == "":
		return forge.PullRequest{}, errors.New("create pull request: no head branch")
	case pr.Head == pr.Base:
		return forge.PullRequest{}, fmt.Errorf("create pull request: head and base are both %s", pr.Head)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out Pull
	found := false
	err := f.update(ctx, func(s *snapshot) (string, error) {
		if p := s.db.openFor(pr.Head); p != nil {
			out, found = *p, true
			return "", nil
		}
		head, ok := s.heads[pr.Head]
		if !ok {
			return "", fmt.Errorf("create pull request: branch %s is not on %s", pr.Head, f.url)
		}
		if _, ok := s.heads[pr.Base]; !ok {
			return "", fmt.Errorf("create pull request: base branch %s is not on %s", pr.Base, f.url)
		}
		intro, err := s.introductions(pr.Base)
		if err != nil {
			return "", err
		}
		if _, ok := intro[head]; ok {
			return "", fmt.Errorf("create pull request: no commits between %s and %s", pr.Base, pr.Head)
		}
		n := s.db.nextNumber()
		out = Pull{
			Number:    n,
			Title:     pr.Title,
			Body:      pr.Body,
			Head:      pr.Head,
			HeadSHA:   head.String(),
			Base:      pr.Base,
			State:     forge.StateOpen,
			Labels:    addLabels(nil, pr.Labels),
			URL:       f.URL(n),
			CreatedAt: f.now().UTC(),
		}
		s.db.Pulls = append(s.db.Pulls, out)
		return fmt.Sprintf("open #%d from %s into %s: %s", n, pr.Head, pr.Base, pr.Title), nil
	})
	if err != nil {
		return forge.PullRequest{}, err
	}
	created := out.PullRequest()
	created.Found = found
	return created, nil
}

// edit applies fn to pull request n in one forge commit. Callers hold f.mu.
func (f *Forge) edit(ctx context.Context, n int, fn func(p *Pull) (string, error)) error {
	return f.update(ctx, func(s *snapshot) (string, error) {
		p, err := s.db.pull(n)
		if err != nil {
			return "", err
		}
		return fn(p)
	})
}

// UpdateBody replaces pull request n's description.
func (f *Forge) UpdateBody(ctx context.Context, n int, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.edit(ctx, n, func(p *Pull) (string, error) {
		p.Body = body
		return fmt.Sprintf("edit the body of #%d", n), nil
	})
}

// AddLabels adds labels to pull request n, each once.
func (f *Forge) AddLabels(ctx context.Context, n int, labels ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.edit(ctx, n, func(p *Pull) (string, error) {
		p.Labels = addLabels(p.Labels, labels)
		return fmt.Sprintf("label #%d: %s", n, strings.Join(labels, ", ")), nil
	})
}

func addLabels(have, add []string) []string {
	for _, l := range add {
		if l != "" && !slices.Contains(have, l) {
			have = append(have, l)
		}
	}
	return have
}

// Comment adds a comment to pull request n.
func (f *Forge) Comment(ctx context.Context, n int, body string) error {
	if strings.TrimSpace(body) == "" {
		return fmt.Errorf("comment on #%d: empty comment", n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.edit(ctx, n, func(p *Pull) (string, error) {
		p.Comments = append(p.Comments, Comment{Body: body, CreatedAt: f.now().UTC()})
		return fmt.Sprintf("comment on #%d", n), nil
	})
}

// Close closes pull request n without merging it, adding comment first when it is not
// empty; both are one forge commit. Closing a closed pull request does nothing, so a
// retried close converges; closing a merged one is an error.
func (f *Forge) Close(ctx context.Context, n int, comment string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.edit(ctx, n, func(p *Pull) (string, error) {
		switch p.State {
		case forge.StateClosed:
			return "", nil
		case forge.StateMerged:
			return "", fmt.Errorf("close #%d: it is already merged (into %s at %s)", n, p.Base, p.MergeCommit)
		}
		now := f.now().UTC()
		if strings.TrimSpace(comment) != "" {
			p.Comments = append(p.Comments, Comment{Body: comment, CreatedAt: now})
		}
		p.State = forge.StateClosed
		p.ClosedAt = now
		return fmt.Sprintf("close #%d", n), nil
	})
}

// SetStatus sets the status of a context on a commit of the remote, replacing the
// context's previous status there; the forge ref's history keeps the old ones.
func (f *Forge) SetStatus(ctx context.Context, sha string, status forge.Status) error {
	sha = strings.ToLower(sha)
	if !plumbing.IsHash(sha) {
		return fmt.Errorf("set status: %q is not a full commit SHA", sha)
	}
	switch status.State {
	case forge.StatusPending, forge.StatusSuccess, forge.StatusFailure, forge.StatusError:
	default:
		return fmt.Errorf("set status on %s: unknown state %q", sha, status.State)
	}
	if status.Context == "" {
		return fmt.Errorf("set status on %s: no context", sha)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.update(ctx, func(s *snapshot) (string, error) {
		if _, err := object.GetCommit(f.store, plumbing.NewHash(sha)); err != nil {
			return "", fmt.Errorf("set status: commit %s is on no branch of %s", sha, f.url)
		}
		st := CommitStatus{
			State:       status.State,
			Context:     status.Context,
			Description: status.Description,
			TargetURL:   status.TargetURL,
			CreatedAt:   f.now().UTC(),
		}
		if s.db.Statuses == nil {
			s.db.Statuses = map[string][]CommitStatus{}
		}
		list := s.db.Statuses[sha]
		if i := slices.IndexFunc(list, func(c CommitStatus) bool { return c.Context == st.Context }); i >= 0 {
			// A pass that reports the same status again changes nothing.
			if same := list[i]; same.State == st.State && same.Description == st.Description && same.TargetURL == st.TargetURL {
				return "", nil
			}
			list[i] = st
		} else {
			list = append(list, st)
		}
		s.db.Statuses[sha] = list
		return fmt.Sprintf("status %s for %s on %s", st.State, st.Context, sha[:12]), nil
	})
}

// Statuses returns the latest status of each context on commit sha, by context.
func (f *Forge) Statuses(ctx context.Context, sha string) ([]forge.Status, error) {
	db, err := f.Read(ctx)
	if err != nil {
		return nil, err
	}
	return db.StatusesOf(sha), nil
}

// StatusesOf returns the latest status of each context on commit sha, by context.
func (db *Database) StatusesOf(sha string) []forge.Status {
	out := []forge.Status{}
	for _, st := range db.Statuses[strings.ToLower(sha)] {
		out = append(out, forge.Status{State: st.State, Context: st.Context, Description: st.Description, TargetURL: st.TargetURL})
	}
	slices.SortFunc(out, func(a, b forge.Status) int { return strings.Compare(a.Context, b.Context) })
	return out
}

// Comments returns pull request n's comments, oldest first. The local forge keeps no
// author.
func (f *Forge) Comments(ctx context.Context, n int) ([]forge.Comment, error) {
	db, err := f.Read(ctx)
	if err != nil {
		return nil, err
	}
	p, err := db.pull(n)
	if err != nil {
		return nil, err
	}
	out := []forge.Comment{}
	for _, c := range p.Comments {
		out = append(out, forge.Comment{Body: c.Body, CreatedAt: c.CreatedAt})
	}
	return out, nil
}
