package gitops

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/step"
)

// A person can undo a merged step without gitmig: GitHub's Revert button (a pull
// request whose branch holds `git revert -m 1 <merge>`), or a revert commit pushed to
// the base branch. Either deletes the step's file under migrations/<id>/ with the
// step's overlay edits, while the step's merge commit stays on the base branch. gitmig
// reads that as the step undone by hand: it waits for the revert to be applied like
// one of its own rollback pull requests, then rolls back the steps still merged, and
// the migration ends RolledBack.

// findHandReverts fills m.reverted with the merged steps whose merge commit is on the
// base branch but whose step file is not, and that no rollback pull request of gitmig
// undid: the commit that removed the file stands in for the rollback's merge.
func (p *passCtx) findHandReverts(m *migration) error {
	for _, s := range slices.Sorted(maps.Keys(m.prs)) {
		pr := m.prs[s]
		if pr.State != forge.StateMerged || pr.MergeCommit == "" || slices.Contains(m.rec.Status.Steps, s) {
			continue
		}
		if undo, ok := m.undos[s]; ok && undo.State == forge.StateMerged {
			continue
		}
		on, err := p.ws.IsAncestor(pr.MergeCommit, p.st.head)
		if err != nil {
			return err
		}
		if !on {
			// Merged after the pass's fetch: the base branch does not show it yet.
			continue
		}
		stepFile := record.StepPath(m.id(), s)
		if _, had, err := p.ws.ReadFile(pr.MergeCommit, stepFile); err != nil || !had {
			// A step merged before step files existed says nothing by its absence.
			return err
		}
		sha, when, err := p.ws.Removed(p.st.head, stepFile)
		if err != nil {
			return fmt.Errorf("finding what reverted step %d (#%d): %w", int(s), pr.Number, err)
		}
		m.reverted[s] = forge.PullRequest{
			Title:       fmt.Sprintf("revert of step %s %s by hand", s.Of(), s.Name()),
			State:       forge.StateMerged,
			MergeCommit: sha,
			MergedAt:    when.UTC(),
		}
	}
	return nil
}

// undoOf is what undid step s on the base branch: gitmig's merged rollback pull
// request, or a revert by hand.
func (m *migration) undoOf(s step.Step) (forge.PullRequest, bool) {
	if pr, ok := m.undos[s]; ok && pr.State == forge.StateMerged {
		return pr, true
	}
	pr, ok := m.reverted[s]
	return pr, ok
}

// rollbackFrom is the last step that was merged when the rollback began: as the
// record says, or the highest step reverted by hand.
func (m *migration) rollbackFrom() step.Step {
	from := step.Step(0)
	if rb := m.rec.Status.Rollback; rb != nil {
		from = step.Step(rb.FromStep)
	}
	for s := range m.reverted {
		from = max(from, s)
	}
	return from
}

// handRevertReason says which steps were reverted by hand, and where; "" when none.
func (m *migration) handRevertReason(branch string) string {
	if len(m.reverted) == 0 {
		return ""
	}
	s := slices.Max(slices.Collect(maps.Keys(m.reverted)))
	rev := m.reverted[s]
	why := fmt.Sprintf("step %d (%s), #%d, was reverted by hand on %s in %s at %s", int(s), s.Name(), m.prs[s].Number, branch, short(rev.MergeCommit), rev.MergedAt.Format(time.RFC3339))
	if n := len(m.reverted); n > 1 {
		why += fmt.Sprintf(" (and %d earlier steps)", n-1)
	}
	return why
}

// closeStale closes, while the migration rolls back, its open step pull request (no
// step opens again) and any rollback pull request of a step already reverted by hand.
func (p *passCtx) closeStale(ctx context.Context, m *migration) error {
	for _, s := range slices.Sorted(maps.Keys(m.prs)) {
		if pr := m.prs[s]; pr.State == forge.StateOpen {
			reason, err := p.rollbackReason(ctx, m)
			if err != nil {
				return err
			}
			if err := p.closePR(ctx, m, s, pr, "gitmig: closing: the migration is rolling back: "+reason); err != nil {
				return err
			}
			pr.State = forge.StateClosed
			m.prs[s] = pr
		}
	}
	for _, s := range slices.Sorted(maps.Keys(m.undos)) {
		rev, byHand := m.reverted[s]
		if pr := m.undos[s]; pr.State == forge.StateOpen && byHand {
			comment := fmt.Sprintf("gitmig: closing: step %d was reverted by hand in %s, so this rollback is not needed.", int(s), short(rev.MergeCommit))
			if err := p.closePR(ctx, m, s, pr, comment); err != nil {
				return err
			}
			pr.State = forge.StateClosed
			m.undos[s] = pr
		}
	}
	return nil
}
