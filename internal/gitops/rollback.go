package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// rollingBack reports whether the migration has begun to roll back: its record says so
// on the base branch, a rollback pull request or branch exists, or a step was reverted
// by hand.
func (m *migration) rollingBack() bool {
	if m.rec.Status.Rollback != nil || len(m.undos) > 0 || len(m.reverted) > 0 {
		return true
	}
	for b := range m.branches {
		if b.Undo {
			return true
		}
	}
	return false
}

// timedOut says why a merged step that has not passed its gate must roll back, or "".
func (p *passCtx) timedOut(m *migration, s step.Step, res gate.Result) string {
	switch {
	case res.Verdict == gate.Fail:
		return fmt.Sprintf("step %d (%s) failed its gate: %s", int(s), s.Name(), res.Reason)
	case res.Verdict == gate.Wait:
		pr, ok := m.prs[s]
		timeout := p.st.cfg.Policy.StepTimeout.Duration
		if ok && !pr.MergedAt.IsZero() && p.now.Sub(pr.MergedAt) > timeout {
			return fmt.Sprintf("step %d (%s) was not applied and healthy within policy.stepTimeout (%s) of its merge at %s: %s",
				int(s), s.Name(), timeout, pr.MergedAt.UTC().Format(time.RFC3339), res.Reason)
		}
	}
	return ""
}

// rollBack undoes the merged steps one pull request at a time, newest first, each
// after the previous undo is applied. Undoing the flip first puts the source's Service
// back on its own pods, which are still running until cleanup. A step reverted by hand
// counts as undone once its revert is applied. When nothing had merged (an abort before
// step 1 merged), the migration ends Aborted; otherwise RolledBack.
func (p *passCtx) rollBack(ctx context.Context, m *migration, status *report.MigrationStatus) error {
	status.Status = report.StatusRollingBack
	if err := p.closeStale(ctx, m); err != nil {
		return err
	}
	inEffect := m.merged()
	if pr, ok := m.undos[inEffect]; ok && inEffect > 0 {
		switch pr.State {
		case forge.StateOpen:
			status.WaitingFor = fmt.Sprintf("review and merge of rollback pull request #%d (undo step %d)", pr.Number, int(inEffect))
			status.Awaits = report.AwaitsReview
		case forge.StateMerged:
			status.WaitingFor = fmt.Sprintf("rollback pull request #%d is merged; waiting for %s to show it", pr.Number, p.ws.Branch())
			status.Awaits = report.AwaitsPass
		case forge.StateClosed:
			why := fmt.Sprintf("rollback pull request #%d (undo step %d) was closed without merge; steps 1-%d stay merged", pr.Number, int(inEffect), int(inEffect))
			status.Status, status.WaitingFor, status.Message = string(record.Aborted), "", why
			return p.end(ctx, m, record.Aborted, why)
		}
		return nil
	}
	from := m.rollbackFrom()
	for s := inEffect + 1; s <= from; s++ {
		res, err := p.checkUndo(ctx, m, s)
		if err != nil {
			return err
		}
		if res.Verdict != gate.Pass {
			status.WaitingFor = fmt.Sprintf("rollback of step %d to be applied: %s", int(s), res.Reason)
			status.Awaits, status.RecheckAt = report.AwaitsGate, res.RecheckAt
			return nil
		}
	}
	reason, err := p.rollbackReason(ctx, m)
	if err != nil {
		return err
	}
	if inEffect > 0 {
		return p.openUndo(ctx, m, status, inEffect, reason)
	}
	phase, message := record.RolledBack, "rolled back: "+reason
	if from == 0 {
		phase, message = record.Aborted, reason
	}
	status.Status, status.WaitingFor, status.Message = string(phase), "", message
	return p.end(ctx, m, phase, message)
}

// rollbackReason recovers why the rollback began: from the record on the base branch,
// from the steps reverted by hand, or from the first rollback branch when its pull
// request was never opened.
func (p *passCtx) rollbackReason(ctx context.Context, m *migration) (string, error) {
	if m.rec.Status.Rollback != nil {
		return m.rec.Status.Rollback.Reason, nil
	}
	if why := m.handRevertReason(p.ws.Branch()); why != "" {
		return why, nil
	}
	for b := range m.branches {
		if !b.Undo {
			continue
		}
		branch := b.String()
		sha, err := p.ws.FetchBranch(ctx, branch)
		if err != nil {
			return "", err
		}
		data, ok, err := p.ws.ReadFile(sha, record.Path(m.id()))
		if err != nil || !ok {
			return "", err
		}
		rec, err := record.Parse(data)
		if err != nil {
			return "", fmt.Errorf("%s on %s: %w", record.Path(m.id()), branch, err)
		}
		if rec.Status.Rollback != nil {
			return rec.Status.Rollback.Reason, nil
		}
	}
	return "rollback resumed", nil
}

// checkUndo asks the engine whether the rollback of a step, or its revert by hand, is
// applied.
func (p *passCtx) checkUndo(ctx context.Context, m *migration, s step.Step) (gate.Result, error) {
	pr, ok := m.undoOf(s)
	if !ok {
		return gate.Waiting("no merged rollback pull request for step %d", int(s)), nil
	}
	return p.askGate(ctx, m, s, pr, true)
}

// openUndo opens the pull request that reverts one merged step.
func (p *passCtx) openUndo(ctx context.Context, m *migration, status *report.MigrationStatus, k step.Step, reason string) error {
	status.Status = report.StatusRollingBack
	// Every way out of here but an error waits for a person: a review, or a revert by
	// hand.
	status.Awaits, status.RecheckAt = report.AwaitsReview, time.Time{}
	merged, ok := m.prs[k]
	if !ok || merged.MergeCommit == "" {
		status.WaitingFor = fmt.Sprintf("cannot roll back step %d: its merged pull request is not found; revert it by hand", int(k))
		return nil
	}
	if _, err := p.ws.Descends(ctx, merged.MergeCommit, merged.MergeCommit); err != nil {
		return err
	}
	edits, err := p.ws.Revert(merged.MergeCommit, p.ws.Head(), undoes(m.id(), k))
	var conflict *workspace.ConflictError
	if errors.As(err, &conflict) {
		status.WaitingFor = fmt.Sprintf("cannot roll back step %d automatically (%v); revert #%d by hand", int(k), err, merged.Number)
		return nil
	}
	if err != nil {
		return err
	}
	model, err := p.st.fleet(ctx)
	if err != nil {
		return err
	}
	if _, err := model.With(edits); err != nil {
		status.WaitingFor = fmt.Sprintf("cannot roll back step %d: the reverted overlay does not build: %v", int(k), err)
		return nil
	}
	rec := *m.rec
	rec.Status.Step = int(k) - 1
	rec.Status.PullRequests = slices.Clone(m.rec.Status.PullRequests)
	for s, pr := range m.prs {
		rec.SetPullRequest(record.PullRequestRef{Step: int(s), Number: pr.Number, URL: pr.URL})
	}
	if rec.Status.Rollback == nil {
		rec.Status.Rollback = &record.Rollback{Reason: reason, Since: p.now, FromStep: int(max(k, m.rollbackFrom()))}
	}
	data, err := rec.File()
	if err != nil {
		return err
	}
	edits = append(edits, tree.Edit{Path: record.Path(m.id()), Content: data})
	title := UndoTitle(&rec, k)
	sha, err := p.ws.Commit(p.ws.Head(), edits, fmt.Sprintf("%s\n\nRevert %s (#%d): %s\n\nMigration: %s\nUndo: %s\n", title, short(merged.MergeCommit), merged.Number, reason, m.id(), k))
	if err != nil {
		return err
	}
	key := step.Branch{ID: m.id(), Step: k, Undo: true}
	err = p.pushStepBranch(ctx, m, key, sha)
	var foreign *ForeignError
	if errors.As(err, &foreign) {
		// Rolling back is how a migration ends safely: a person must clear the way.
		status.WaitingFor = fmt.Sprintf("cannot roll back step %d: %v", int(k), foreign)
		return nil
	}
	if err != nil {
		return err
	}
	body := UndoBody(&rec, k, merged, reason, edits)
	created, err := p.createPR(ctx, m, k, forge.NewPullRequest{Title: title, Body: body, Head: key.String(), Base: p.ws.Branch(), Labels: []string{forge.Label}})
	if err != nil {
		return err
	}
	status.WaitingFor = fmt.Sprintf("review and merge of rollback pull request #%d (undo step %d)", created.Number, int(k))
	if created.Number != 0 {
		m.undos[k] = created
		status.PullRequests = append(status.PullRequests, prStatus(k, created))
	}
	return nil
}

// undoes selects what undoing step k of migration id reverts: the step's overlay
// edits and its step file, and none of the records.
func undoes(id string, k step.Step) func(path string) bool {
	stepFile := record.StepPath(id, k)
	return func(path string) bool {
		return path == stepFile || !strings.HasPrefix(path, record.Dir+"/")
	}
}

// UndoTitle is a rollback pull request's title.
func UndoTitle(rec *record.Record, s step.Step) string {
	return fmt.Sprintf("gitmig: rollback move %s %s→%s [undo %s %s]", rec.Spec.Service, rec.Spec.From, rec.Spec.To, s.Of(), s.Name())
}

// UndoBody describes a rollback pull request: why, what it reverts and what follows.
func UndoBody(rec *record.Record, s step.Step, merged forge.PullRequest, reason string, edits []tree.Edit) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Roll back `%s` (namespace `%s`) %s→%s: undo step %s, %s\n\n", rec.Spec.Service, rec.Spec.Namespace, rec.Spec.From, rec.Spec.To, s.Of(), s.Name())
	fmt.Fprintf(&b, "Why: %s\n\n", reason)
	fmt.Fprintf(&b, "This reverts [#%d](%s) (merge commit `%s`): %s\n\n", merged.Number, merged.URL, short(merged.MergeCommit), stepSummary(rec, s))
	b.WriteString("| | file |\n|---|---|\n")
	for _, e := range edits {
		action := "restore"
		if e.Delete {
			action = "delete"
		}
		fmt.Fprintf(&b, "| %s | `%s` |\n", action, e.Path)
	}
	if s > step.Deploy {
		fmt.Fprintf(&b, "\nOnce this is merged and applied, gitmig opens the rollback of step %d. ", int(s)-1)
	} else {
		b.WriteString("\nOnce this is merged and applied, the migration is RolledBack. ")
	}
	fmt.Fprintf(&b, "Steps are undone newest first: until cleanup, %s still runs %s, so its Service can point at its own pods again.\n", rec.Spec.From, rec.Spec.Service)
	fmt.Fprintf(&b, "\nClosing this without merging ends the migration Aborted with steps 1-%d still merged.\n", int(s))
	fmt.Fprintf(&b, "\n---\nRecord: `%s` · opened by gitmig\n", record.Path(rec.ID()))
	return b.String()
}
