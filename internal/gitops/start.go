package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/rehearsal"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
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
	in := Constraints(p.st.cfg, records, p.now)
	if len(in.InFlight) >= p.st.cfg.Policy.MaxConcurrent {
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
	in.Config, in.Fleet, in.Metrics = p.st.cfg, placement, snap
	plan := decide.NewPlan(in)
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
		err := p.startMigration(ctx, spec)
		var cannotFinish *rehearsal.Error
		if errors.As(err, &cannotFinish) {
			// The plan cannot know what the overlays allow; the next pass plans again.
			p.report.Notes = append(p.report.Notes, err.Error())
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Constraints are what the records impose on a plan at a time, as the fields of a
// plan's input they fill: the migrations in flight, whose requests are promised to
// their destinations; those completed within policy.sustain, whose effect the
// sustained metrics may not show yet; and the cooldowns. A completed migration holds
// its service still; an aborted or rolled-back one keeps its service off that
// destination.
func Constraints(cfg *config.Config, records []*record.Record, now time.Time) decide.Input {
	var in decide.Input
	for _, rec := range records {
		m := decide.Migration{Service: rec.Spec.Service, From: rec.Spec.From, To: rec.Spec.To, Step: max(rec.Status.Step, 1)}
		if !rec.Status.Phase.Ended() {
			in.InFlight = append(in.InFlight, m)
			continue
		}
		if rec.Status.EndedAt.IsZero() {
			continue
		}
		if rec.Status.Phase == record.Completed && rec.Status.EndedAt.Add(cfg.Policy.Sustain.Duration).After(now) {
			in.Recent = append(in.Recent, m)
		}
		c := decide.Cooldown{Service: rec.Spec.Service, Until: rec.Status.EndedAt.Add(cfg.Policy.Cooldown.Duration)}
		if rec.Status.Phase != record.Completed {
			c.Cluster = rec.Spec.To
		}
		if c.Until.After(now) {
			in.Cooldowns = append(in.Cooldowns, c)
		}
	}
	return in
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
	// A migration that cannot finish leaves no record behind.
	if _, err := rehearsal.Run(model, mig); err != nil {
		return fmt.Errorf("not starting %s: %w", id, err)
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
	return p.openOrHold(ctx, m, status, step.Deploy)
}

// StartRequest is a migration asked for by hand.
type StartRequest struct {
	Service string
	// From is the source cluster; empty means the one cluster the service runs in.
	From   string
	To     string
	Reason string
	// Force starts the migration although policy refuses it; the record and the pull
	// requests say what policy would have refused. It never overrides what makes a
	// migration impossible: another migration of the service in flight, or a step that
	// cannot be carried out.
	Force bool
}

// PolicyError says why policy refuses a migration asked for by hand.
type PolicyError struct {
	Service, From, To string
	Refusals          []string
}

func (e *PolicyError) Error() string {
	return fmt.Sprintf("policy refuses moving %s from %s to %s:\n  - %s\n(--force starts it anyway; its record and pull requests then say what policy refused)",
		e.Service, e.From, e.To, strings.Join(e.Refusals, "\n  - "))
}

// Start begins a migration by hand, through the same path as a planned one: the
// plan's rules judge it (see decide.Judge), all four steps are rehearsed, then the
// record claims it and step 1's pull request opens.
func (r *Reconciler) Start(ctx context.Context, req StartRequest) (*report.Report, error) {
	ws, err := r.Clone(ctx)
	if err != nil {
		return nil, err
	}
	rep := &report.Report{}
	for attempt := 1; ; attempt++ {
		rep.Migrations = nil
		err := r.startByHand(ctx, ws, rep, req)
		if !errors.Is(err, workspace.ErrRejected) || attempt == MaxAttempts {
			return rep, err
		}
		if err := ws.Fetch(ctx); err != nil {
			return rep, err
		}
	}
}

func (r *Reconciler) startByHand(ctx context.Context, ws *workspace.Workspace, rep *report.Report, req StartRequest) error {
	st, err := r.load(ctx, ws)
	if err != nil {
		return err
	}
	rep.Head = st.head
	p := &passCtx{r: r, ws: ws, st: st, report: rep, now: r.now()}
	svc, ok := st.cfg.Service(req.Service)
	if !ok {
		return fmt.Errorf("unknown service %q: it is not in gitmig.yaml's services", req.Service)
	}
	if _, ok := st.cfg.Cluster(req.To); !ok {
		return fmt.Errorf("unknown cluster %q: it is not in gitmig.yaml's clusters", req.To)
	}
	model, err := st.fleet(ctx)
	if err != nil {
		return err
	}
	from := req.From
	if from == "" {
		running := model.Running(svc)
		if len(running) != 1 {
			return fmt.Errorf("service %s runs in %d clusters (%v): say which one to move it from with --from", req.Service, len(running), running)
		}
		from = running[0]
	}
	for _, m := range st.migrations {
		if m.rec.Spec.Service == req.Service && !m.rec.Status.Phase.Ended() {
			return fmt.Errorf("service %s is already migrating (%s, step %d)", req.Service, m.id(), m.rec.Status.Step)
		}
	}
	judgement, err := p.weigh(ctx, model, req.Service, from, req.To)
	if err != nil {
		return err
	}
	spec := record.Spec{
		Service:   req.Service,
		Namespace: svc.Namespace,
		From:      from,
		To:        req.To,
		DecidedAt: p.now.Truncate(time.Minute),
		DecidedBy: "gitmig migrate",
		Reason:    req.Reason,
		Evidence:  fmt.Sprintf("Weighed by the plan's rules, %s as the destination: %s\n", req.To, text.Cell(judgement.Candidate.Why)),
	}
	if refusals := judgement.Refusals; len(refusals) > 0 {
		if !req.Force {
			return &PolicyError{Service: req.Service, From: from, To: req.To, Refusals: refusals}
		}
		spec.PolicyOverridden = refusals
		spec.DecidedBy = "gitmig migrate --force"
	}
	return p.startMigration(ctx, spec)
}

// weigh judges a move asked for by hand with the pass's records and metrics.
func (p *passCtx) weigh(ctx context.Context, model *fleet.Model, service, from, to string) (decide.Judgement, error) {
	records := make([]*record.Record, 0, len(p.st.migrations))
	for _, m := range p.st.migrations {
		records = append(records, m.rec)
	}
	at := p.r.At
	if at.IsZero() {
		at = p.now.Truncate(time.Second)
	}
	return Weigh(ctx, model, records, p.r.Metrics, at, service, from, to)
}

// Weigh judges a move asked for by hand by the plan's rules (decide.Judge), with the
// constraints of the records and the metrics source's snapshot at time at. Metrics that
// cannot be read, or no source, make every cluster Unknown, which policy refuses to
// weigh.
func Weigh(ctx context.Context, model *fleet.Model, records []*record.Record, source metrics.Source, at time.Time, service, from, to string) (decide.Judgement, error) {
	placement, err := Placement(model)
	if err != nil {
		return decide.Judgement{}, err
	}
	var snap *metrics.Snapshot
	if source == nil {
		snap = metrics.UnknownSnapshot(model.Config, at, "no metrics source")
	} else if snap, err = source.Snapshot(ctx, at); err != nil {
		if ctx.Err() != nil {
			return decide.Judgement{}, err
		}
		snap = metrics.UnknownSnapshot(model.Config, at, "reading metrics: "+err.Error())
	}
	in := Constraints(model.Config, records, at)
	in.Config, in.Fleet, in.Metrics = model.Config, placement, snap
	return decide.Judge(in, service, from, to), nil
}
