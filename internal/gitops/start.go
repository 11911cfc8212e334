package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
)

// start plans from the metrics and starts the decided migrations.
func (p *passCtx) start(ctx context.Context) error {
	if p.r.Metrics == nil {
		return nil
	}
	records := make([]*record.Record, 0, len(p.st.migrations))
	for _, m := range p.st.migrations {
		records = append(records, m.rec)
	}
	inFlight, cooldowns := Constraints(p.st.cfg, records, p.now)
	if len(inFlight) >= p.st.cfg.Policy.MaxConcurrent {
		// Nothing could start: reading the metrics and building the fleet would be
		// wasted.
		return nil
	}
	model, err := p.st.fleet(ctx)
	if err != nil {
		return err
	}
	placement, err := Placement(model)
	if err != nil {
		return err
	}
	at := p.r.At
	if at.IsZero() {
		at = p.now.Truncate(time.Second)
	}
	snap, err := p.r.Metrics.Snapshot(ctx, at)
	if err != nil {
		return fmt.Errorf("reading metrics: %w", err)
	}
	plan := decide.NewPlan(decide.Input{
		Config:    p.st.cfg,
		Fleet:     placement,
		Metrics:   snap,
		InFlight:  inFlight,
		Cooldowns: cooldowns,
	})
	p.report.Plan = &plan
	var evidence bytes.Buffer
	if err := present.PlanMarkdown(&evidence, plan, snap, p.st.cfg.Policy); err != nil {
		return err
	}
	for _, d := range plan.Decisions {
		spec := record.Spec{
			Service:   d.Service,
			Namespace: d.Namespace,
			From:      d.From,
			To:        d.To,
			DecidedAt: plan.EvaluatedAt.UTC(),
			DecidedBy: "gitmig plan",
			Reason:    d.Reason,
			Evidence:  evidence.String(),
		}
		if err := p.startMigration(ctx, spec); err != nil {
			return err
		}
	}
	return nil
}

// Constraints are what the records impose on a plan at a time: the migrations in
// flight, whose requests are promised to their destinations, and the cooldowns. A
// completed migration holds its service still; an aborted or rolled-back one keeps
// its service off that destination.
func Constraints(cfg *config.Config, records []*record.Record, now time.Time) (inFlight []decide.Migration, cooldowns []decide.Cooldown) {
	for _, rec := range records {
		if !rec.Status.Phase.Ended() {
			inFlight = append(inFlight, decide.Migration{Service: rec.Spec.Service, From: rec.Spec.From, To: rec.Spec.To, Step: max(rec.Status.Step, 1)})
			continue
		}
		if rec.Status.EndedAt.IsZero() {
			continue
		}
		c := decide.Cooldown{Service: rec.Spec.Service, Until: rec.Status.EndedAt.Add(cfg.Policy.Cooldown.Duration)}
		if rec.Status.Phase != record.Completed {
			c.Cluster = rec.Spec.To
		}
		if c.Until.After(now) {
			cooldowns = append(cooldowns, c)
		}
	}
	return inFlight, cooldowns
}

// startMigration claims a migration with a record commit on the base branch, which
// serialises concurrent passes, then opens its first step.
func (p *passCtx) startMigration(ctx context.Context, spec record.Spec) error {
	id := render.MigrationID(spec.Service, spec.From, spec.To, spec.DecidedAt)
	for _, m := range p.st.migrations {
		if m.id() == id || (m.rec.Spec.Service == spec.Service && !m.rec.Status.Phase.Ended()) {
			return nil
		}
	}
	if prs := p.st.orphans[id]; len(prs) > 0 {
		// Its record left the base branch, as with a force-push, but its pull requests
		// remain: starting it again would open a step a second time.
		p.report.Notes = append(p.report.Notes, fmt.Sprintf("not starting %s: pull request #%d of a migration with this id exists without its record", id, prs[0].Number))
		return nil
	}
	mig, err := render.NewMigration(p.st.cfg, id, spec.Service, spec.From, spec.To)
	if err != nil {
		return err
	}
	model, err := p.st.fleet(ctx)
	if err != nil {
		return err
	}
	// A decision that step 1 cannot carry out leaves no record behind.
	if _, err := render.Render(model, mig, step.Deploy); err != nil {
		p.report.Notes = append(p.report.Notes, fmt.Sprintf("not starting %s: %v", id, err))
		return nil
	}
	rec := record.New(id, spec)
	message := fmt.Sprintf("gitmig: decide to move %s %s→%s\n\n%s", spec.Service, spec.From, spec.To, spec.Reason)
	if err := p.pushRecord(ctx, rec, message); err != nil {
		return err
	}
	m := newMigration(rec)
	p.st.migrations = append(p.st.migrations, m)
	status := p.status(m)
	defer func() { p.report.Migrations = append(p.report.Migrations, *status) }()
	return p.openStep(ctx, m, status, step.Deploy)
}

// Start begins a migration by hand, through the same path as a planned one.
func (r *Reconciler) Start(ctx context.Context, service, from, to, reason string) (*report.Report, error) {
	ws, err := r.Clone(ctx)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{}
	for attempt := 1; ; attempt++ {
		rep.Migrations = nil
		err := r.startByHand(ctx, ws, rep, service, from, to, reason)
		if !errors.Is(err, workspace.ErrRejected) || attempt == MaxAttempts {
			return rep, err
		}
		if err := ws.Fetch(ctx); err != nil {
			return rep, err
		}
	}
}

func (r *Reconciler) startByHand(ctx context.Context, ws *workspace.Workspace, rep *report.Report, service, from, to, reason string) error {
	st, err := r.load(ctx, ws)
	if err != nil {
		return err
	}
	rep.Head = st.head
	p := &passCtx{r: r, ws: ws, st: st, report: rep, now: r.now()}
	svc, ok := st.cfg.Service(service)
	if !ok {
		return fmt.Errorf("unknown service %q: it is not in gitmig.yaml's services", service)
	}
	model, err := st.fleet(ctx)
	if err != nil {
		return err
	}
	if from == "" {
		running := model.Running(svc)
		if len(running) != 1 {
			return fmt.Errorf("service %s runs in %d clusters (%v): say which one to move it from with --from", service, len(running), running)
		}
		from = running[0]
	}
	for _, m := range st.migrations {
		if m.rec.Spec.Service == service && !m.rec.Status.Phase.Ended() {
			return fmt.Errorf("service %s is already migrating (%s, step %d)", service, m.id(), m.rec.Status.Step)
		}
	}
	mig, err := render.NewMigration(st.cfg, render.MigrationID(service, from, to, p.now), service, from, to)
	if err != nil {
		return err
	}
	if _, err := render.Render(model, mig, step.Deploy); err != nil {
		return err
	}
	spec := record.Spec{
		Service:   service,
		Namespace: svc.Namespace,
		From:      from,
		To:        to,
		DecidedAt: p.now.Truncate(time.Minute),
		DecidedBy: "gitmig migrate",
		Reason:    reason,
	}
	return p.startMigration(ctx, spec)
}
