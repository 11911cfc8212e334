package gitops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/report"
)

// Reconciler runs passes over one GitOps repository.
type Reconciler struct {
	// Clone opens a fresh workspace on the base branch; one clone per pass.
	Clone func(ctx context.Context) (*workspace.Workspace, error)
	Forge forge.Forge
	Gate  gate.Gate
	// Builder builds the overlays; nil builds them without a cache.
	Builder *fleet.Builder
	// Metrics feeds the plan that starts new migrations; nil starts none.
	Metrics metrics.Source
	// Config overrides the base branch's gitmig.yaml when set.
	Config *config.Config
	// GateFor and MetricsFor, when set, make Gate and Metrics from the gitmig.yaml of
	// each pass, the base branch's, so that the steps, the gates and the plan of a pass
	// follow one file; they are made again only when it changes.
	GateFor    func(*config.Config) (gate.Gate, error)
	MetricsFor func(*config.Config) (metrics.Source, error)
	// WorkTree is the gitmig.yaml the command started from, the work tree's, which
	// says where the remote is; a pass notes when the base branch's differs.
	WorkTree *config.Config
	// Now is the clock; At, when set, is the metrics evaluation time.
	Now func() time.Time
	At  time.Time
	// DryRun computes and reports every action without taking any.
	DryRun bool
	// AfterAction is called after each externally visible action; an error stops the
	// pass right there, as a crash would. Tests use it to prove the pass converges.
	AfterAction func(report.Action) error

	// lastStatus remembers the commit statuses this process has set, so that a
	// long-running loop does not post the same one on every pass.
	lastStatus map[string]forge.Status
	// checked remembers, by branch and commit, why a commit is not gitmig's own ("" when
	// it is): a commit does not change, and judging it renders a step.
	checked map[string]string
	// lastConfig is the base branch's gitmig.yaml the last pass decoded, kept for the
	// next pass to share while the file's bytes stay the same.
	lastConfig *config.Config
	// followed is the gitmig.yaml Gate and Metrics were last made from.
	followed *config.Config
}

// follow makes the gate and the metrics source from cfg, the pass's gitmig.yaml,
// unless they were made from the same one: a file whose bytes are unchanged is the
// same *config.Config from pass to pass.
func (r *Reconciler) follow(cfg *config.Config) error {
	if r.followed == cfg {
		return nil
	}
	if r.GateFor != nil {
		g, err := r.GateFor(cfg)
		if err != nil {
			return err
		}
		r.Gate = g
	}
	if r.MetricsFor != nil {
		m, err := r.MetricsFor(cfg)
		if err != nil {
			return err
		}
		r.Metrics = m
	}
	r.followed = cfg
	return nil
}

func statusKey(sha string, st forge.Status) string { return sha + "\x00" + st.Context }

// statusChanged reports whether st differs from the last status set on sha.
func (r *Reconciler) statusChanged(sha string, st forge.Status) bool {
	return r.lastStatus[statusKey(sha, st)] != st
}

// statusSet remembers a status once the forge took it, so that a failed post is
// posted again by the next pass.
func (r *Reconciler) statusSet(sha string, st forge.Status) {
	if r.lastStatus == nil {
		r.lastStatus = map[string]forge.Status{}
	}
	r.lastStatus[statusKey(sha, st)] = st
}

// MaxAttempts bounds how often one pass refetches after a push the remote rejected
// because another pass moved the base branch first.
const MaxAttempts = 5

// Pass runs one reconcile pass.
func (r *Reconciler) Pass(ctx context.Context) (*report.Report, error) {
	ws, err := r.Clone(ctx)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{}
	for attempt := 1; ; attempt++ {
		rep.Migrations, rep.Plan = nil, nil
		err := r.pass(ctx, ws, rep, true)
		if !errors.Is(err, workspace.ErrRejected) || attempt == MaxAttempts {
			return rep, err
		}
		if err := ws.Fetch(ctx); err != nil {
			return rep, err
		}
	}
}

// Status reads the state of every migration and what it waits for, changing nothing.
func (r *Reconciler) Status(ctx context.Context) (*report.Report, error) {
	ws, err := r.Clone(ctx)
	if err != nil {
		return nil, err
	}
	observer := *r
	observer.DryRun = true
	rep := &report.Report{}
	return rep, observer.pass(ctx, ws, rep, false)
}

func (r *Reconciler) pass(ctx context.Context, ws *workspace.Workspace, rep *report.Report, start bool) error {
	st, err := r.load(ctx, ws)
	if err != nil {
		return err
	}
	rep.Head = st.head
	rep.Notes = append(rep.Notes, st.notes...)
	rep.Invalid = st.invalid
	p := &passCtx{r: r, ws: ws, st: st, report: rep, now: r.now()}
	for _, m := range st.migrations {
		if err := p.advance(ctx, m); err != nil {
			return fmt.Errorf("migration %s: %w", m.id(), err)
		}
	}
	if !start {
		return nil
	}
	return p.start(ctx)
}

func (r *Reconciler) builder() *fleet.Builder {
	if r.Builder == nil {
		r.Builder = fleet.NewBuilder(nil, 0)
	}
	return r.Builder
}

func (r *Reconciler) now() time.Time {
	if r.Now == nil {
		return time.Now().UTC()
	}
	return r.Now().UTC()
}

// passCtx is one attempt of a pass.
type passCtx struct {
	r      *Reconciler
	ws     *workspace.Workspace
	st     *state
	report *report.Report
	now    time.Time
}

// actionGrace is how long an action already begun may take to finish after the pass
// is cancelled: a push or a pull request is left done, not half done.
const actionGrace = time.Minute

// act records an action and, unless dry-running, takes it through do. A cancelled
// pass stops here, before the action: between two actions is a safe point. An
// action begun runs to its end, within actionGrace, whatever happens to ctx.
func (p *passCtx) act(ctx context.Context, a *report.Action, do func(ctx context.Context) error) error {
	a.DryRun = p.r.DryRun
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped before %s %s: %w", a.Kind, a.Detail, context.Cause(ctx))
	}
	if !p.r.DryRun {
		actCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionGrace)
		err := do(actCtx)
		cancel()
		if err != nil {
			return err
		}
	}
	p.report.Actions = append(p.report.Actions, *a)
	if p.r.AfterAction != nil && !p.r.DryRun {
		return p.r.AfterAction(*a)
	}
	return nil
}
