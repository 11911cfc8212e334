package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/report"
)

// Abort stops migration id by hand, for the person by, saying why (reason may be
// empty). It commits the record with a rollback whose reason says so, then takes the
// migration through the rollback a failed gate starts: its open step pull request is
// closed, the merged steps are undone by pull request, newest first, each after the
// previous undo is applied, and the migration ends RolledBack, or Aborted when no step
// had merged. The record commit is what makes the abort last: interrupted anywhere,
// `gitmig abort` again or any reconcile pass carries the rollback on. A migration
// already rolling back keeps its rollback and reason, and is advanced like a pass
// would. An unknown id, or a migration that has ended, is an error.
func (r *Reconciler) Abort(ctx context.Context, id, by, reason string) (*report.Report, error) {
	ws, err := r.Clone(ctx)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{}
	for attempt := 1; ; attempt++ {
		rep.Migrations, rep.Actions, rep.Notes = nil, nil, nil
		err := r.abortByHand(ctx, ws, rep, id, by, reason)
		if !errors.Is(err, workspace.ErrRejected) || attempt == MaxAttempts {
			return rep, err
		}
		if err := ws.Fetch(ctx); err != nil {
			return rep, err
		}
	}
}

func (r *Reconciler) abortByHand(ctx context.Context, ws *workspace.Workspace, rep *report.Report, id, by, reason string) error {
	st, err := r.load(ctx, ws)
	if err != nil {
		return err
	}
	rep.Head = st.head
	// As a pass does, say when the work tree's gitmig.yaml is not the one followed.
	rep.Notes = append(rep.Notes, st.notes...)
	p := &passCtx{r: r, ws: ws, st: st, report: rep, now: r.now()}
	m, err := st.find(id, ws.Branch())
	if err != nil {
		return err
	}
	if phase := m.rec.Status.Phase; phase.Ended() {
		return fmt.Errorf("migration %s already ended %s at %s (%s): there is nothing to abort", id, phase, m.rec.Status.EndedAt.Format(time.RFC3339), m.rec.Status.Message)
	}
	why := AbortReason(by, reason)
	if err := p.findHandReverts(m); err != nil {
		return err
	}
	if m.rollingBack() {
		// Its rollback pull requests carry the record with the rollback's reason: a
		// record commit now would conflict with them.
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s is already rolling back; gitmig abort carries the rollback on", id))
	} else {
		rec := *m.rec
		rec.Status.Rollback = &record.Rollback{Reason: why, Since: p.now, FromStep: int(m.merged())}
		if err := p.pushRecord(ctx, &rec, fmt.Sprintf("gitmig: abort %s\n\n%s\n", id, why)); err != nil {
			return err
		}
		*m.rec = rec
	}
	return p.advance(ctx, m)
}

// AbortReason is the rollback reason an abort by hand records.
func AbortReason(by, reason string) string {
	why := fmt.Sprintf("aborted by hand by %s (gitmig abort)", by)
	if reason = strings.TrimSpace(reason); reason != "" {
		why += ": " + reason
	}
	return why
}

// find returns the migration whose record has id, or an error that says what exists.
func (st *state) find(id, branch string) (*migration, error) {
	for _, m := range st.migrations {
		if m.id() == id {
			return m, nil
		}
	}
	for _, inv := range st.invalid {
		if inv.File == record.Path(id) {
			return nil, fmt.Errorf("migration %s: its record %s cannot be used: %s", id, inv.File, inv.Problem)
		}
	}
	var running []string
	for _, m := range st.migrations {
		if !m.rec.Status.Phase.Ended() {
			running = append(running, m.id())
		}
	}
	known := "none is in progress"
	if len(running) > 0 {
		known = "in progress: " + strings.Join(running, ", ")
	}
	return nil, fmt.Errorf("no migration %q: %s has no record %s (%s; gitmig status lists them)", id, branch, record.Path(id), known)
}
