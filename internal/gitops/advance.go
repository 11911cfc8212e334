package gitops

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
	"github.com/gitmig/gitmig/internal/tree"
)

// advance moves one migration by at most one step.
func (p *passCtx) advance(ctx context.Context, m *migration) error {
	status := p.status(m)
	defer func() { p.report.Migrations = append(p.report.Migrations, *status) }()
	if m.rec.Status.Phase.Ended() {
		return nil
	}
	why, err := p.rewritten(m)
	if err != nil {
		return err
	}
	if why != "" {
		return p.endRewritten(ctx, m, status, why)
	}
	if err := p.findHandReverts(m); err != nil {
		return err
	}
	if m.rollingBack() {
		return p.rollBack(ctx, m, status)
	}
	merged := m.merged()
	if !merged.Last() {
		next := merged + 1
		if pr, ok := m.prs[next]; ok {
			return p.awaitMerge(ctx, m, status, next, pr)
		}
		if merged == 0 {
			return p.openOrHold(ctx, m, status, step.Deploy)
		}
	}
	res, err := p.checkGate(ctx, m, merged)
	if err != nil {
		return err
	}
	if res.Verdict == gate.Pass && !merged.Last() {
		// The migration goes on only if its next step can be written: if not, the
		// merged step's gate fails with why, where reviewers look.
		work, err := p.stepCommit(ctx, m, merged+1, p.ws.Head())
		var cannot *StepError
		if errors.As(err, &cannot) {
			why := p.cannotWrite(m, cannot)
			res = gate.Failed("%s", why)
			status.Gate = &report.GateStatus{Step: int(merged), Verdict: res.Verdict, Reason: res.Reason}
			if err := p.reportGate(ctx, m, merged, res); err != nil {
				return err
			}
			return p.blocked(ctx, m, status, merged+1, why)
		}
		if err != nil {
			return err
		}
		status.Gate = &report.GateStatus{Step: int(merged), Verdict: res.Verdict, Reason: res.Reason}
		if err := p.reportGate(ctx, m, merged, res); err != nil {
			return err
		}
		return p.open(ctx, m, status, merged+1, work)
	}
	status.Gate = &report.GateStatus{Step: int(merged), Verdict: res.Verdict, Reason: res.Reason}
	if err := p.reportGate(ctx, m, merged, res); err != nil {
		return err
	}
	if res.Verdict == gate.Pass {
		status.Status, status.WaitingFor = string(record.Completed), ""
		return p.end(ctx, m, record.Completed, fmt.Sprintf("step %s applied: %s", merged.Of(), res.Reason))
	}
	if why := p.timedOut(m, merged, res); why != "" {
		return p.openUndo(ctx, m, status, merged, why)
	}
	status.WaitingFor = fmt.Sprintf("step %d gate: %s", int(merged), res.Reason)
	status.Awaits = report.AwaitsGate
	status.RecheckAt = res.RecheckAt
	if pr, ok := m.prs[merged]; ok && !pr.MergedAt.IsZero() {
		// The step rolls back at its timeout, however quiet the engine is.
		status.RecheckAt = earliest(status.RecheckAt, pr.MergedAt.Add(p.st.cfg.Policy.StepTimeout.Duration))
	}
	return nil
}

// awaitMerge handles a step whose pull request exists.
func (p *passCtx) awaitMerge(ctx context.Context, m *migration, status *report.MigrationStatus, s step.Step, pr forge.PullRequest) error {
	switch pr.State {
	case forge.StateMerged:
		status.WaitingFor = fmt.Sprintf("pull request #%d is merged; waiting for %s to show it", pr.Number, p.ws.Branch())
		status.Awaits = report.AwaitsPass
		return nil
	case forge.StateClosed:
		return p.abort(ctx, m, status, pr)
	}
	if !pr.HasLabel(forge.Label) {
		// A pass stopped between opening the pull request and labelling it.
		err := p.act(ctx, &report.Action{Kind: report.ActionAddLabels, Migration: m.id(), Step: int(s), Detail: fmt.Sprintf("#%d %s", pr.Number, forge.Label)},
			func(ctx context.Context) error { return p.r.Forge.AddLabels(ctx, pr.Number, forge.Label) })
		if err != nil {
			return err
		}
	}
	key := step.Branch{ID: m.id(), Step: s}
	if _, ok := m.branches[key]; !ok {
		// The branch was deleted under its open pull request: put gitmig's commit
		// back, so that the pull request can be merged again.
		return p.openOrHold(ctx, m, status, s)
	}
	why, err := p.notOwn(ctx, m, key, pr.HeadSHA)
	if err != nil {
		return err
	}
	if why != "" {
		return p.refuseForeign(ctx, m, status, s, pr, &ForeignError{Branch: key.String(), SHA: pr.HeadSHA, Why: why})
	}
	if p.autoMerge(s) {
		status.WaitingFor = fmt.Sprintf("the gate of step %d %s, which gitmig merges (gitops.autoMerge)", int(s), s.Name())
		status.Awaits = report.AwaitsPass
		// Only the head just checked: a commit pushed since is not merged.
		return p.act(ctx, &report.Action{Kind: report.ActionMerge, Migration: m.id(), Step: int(s), Detail: fmt.Sprintf("#%d at %s (gitops.autoMerge)", pr.Number, short(pr.HeadSHA))},
			func(ctx context.Context) error { _, err := p.r.Forge.Merge(ctx, pr.Number, pr.HeadSHA); return err })
	}
	status.WaitingFor = fmt.Sprintf("review and merge of pull request #%d (step %d %s)", pr.Number, int(s), s.Name())
	status.Awaits = report.AwaitsReview
	return nil
}

func (p *passCtx) autoMerge(s step.Step) bool {
	return slices.Contains(p.st.cfg.GitOps.AutoMerge, s.Name())
}

// checkGate asks the gate about a merged step.
func (p *passCtx) checkGate(ctx context.Context, m *migration, s step.Step) (gate.Result, error) {
	pr, ok := m.prs[s]
	if !ok || pr.State != forge.StateMerged {
		return gate.Waiting("no merged pull request found for step %d", int(s)), nil
	}
	return p.askGate(ctx, m, s, pr, false)
}

// askGate asks the gate about a merged step, or about the merged rollback of one.
func (p *passCtx) askGate(ctx context.Context, m *migration, s step.Step, pr forge.PullRequest, undo bool) (gate.Result, error) {
	model, err := p.st.fleet(ctx)
	if err != nil {
		return gate.Result{}, err
	}
	var selector map[string]string
	clientOnly := false
	if svc, ok := p.st.cfg.Service(m.rec.Spec.Service); ok {
		selector = model.Selector(svc)
		if clientOnly, err = model.ClientOnly(svc); err != nil {
			return gate.Result{}, err
		}
	}
	to, _ := p.st.cfg.Cluster(m.rec.Spec.To)
	var routes []gate.Route
	if b := model.Build(to.Name); b != nil {
		for _, o := range b.RoutesTo(m.rec.Spec.Namespace, m.rec.Spec.Service) {
			// A route the build leaves without a namespace lands where the engine
			// puts it, which gitmig cannot tell; the ones it writes have one.
			if o.Namespace != "" {
				routes = append(routes, gate.Route{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
			}
		}
	}
	req := gate.Request{
		MigrationID: m.id(),
		Service:     m.rec.Spec.Service,
		Namespace:   m.rec.Spec.Namespace,
		From:        m.rec.Spec.From,
		To:          m.rec.Spec.To,
		Step:        s,
		Cluster:     s.Cluster(m.rec.Spec.From, m.rec.Spec.To),
		MergeCommit: pr.MergeCommit,
		Branch:      p.ws.Branch(),
		MergedAt:    pr.MergedAt,
		Now:         p.now,
		Descends: func(ctx context.Context, sha string) (bool, error) {
			return p.ws.Descends(ctx, pr.MergeCommit, sha)
		},
		ToDNSName:   to.Ingress.DNSName,
		PodSelector: selector,
		Routes:      routes,
		ClientOnly:  clientOnly,
		Undo:        undo,
		ReadOnly:    p.r.DryRun,
	}
	res, err := p.r.Gate.Check(ctx, req)
	if err != nil || res.Verdict != gate.Pass || undo || s != step.Flip {
		return res, err
	}
	// Step 3 also re-pointed ExternalNames in other clusters (render.Change.Repointed):
	// cleanup may remove the source's routes only once those apply too. The gate
	// checks each as it checks the source: applied, and an ExternalName to the
	// destination.
	for _, cluster := range render.RepointedBy(model, m.id(), m.rec.Spec.From) {
		req.Cluster = cluster
		other, err := p.r.Gate.Check(ctx, req)
		if err != nil || other.Verdict != gate.Pass {
			return other, err
		}
		res.Reason += "; " + other.Reason
	}
	return res, nil
}

// reportGate puts the gate's answer on the step's pull request as a commit status.
func (p *passCtx) reportGate(ctx context.Context, m *migration, s step.Step, res gate.Result) error {
	pr, ok := m.prs[s]
	if !ok || pr.HeadSHA == "" {
		return nil
	}
	state := map[gate.Verdict]forge.StatusState{gate.Pass: forge.StatusSuccess, gate.Wait: forge.StatusPending, gate.Fail: forge.StatusFailure}[res.Verdict]
	return p.setStatus(ctx, m, s, pr, forge.Status{State: state, Context: GateContext, Description: text.Truncate(res.Reason, 140)})
}

// GateContext names gitmig's commit status on step pull requests.
const GateContext = "gitmig/gate"

// setStatus sets a commit status on a pull request's head, unless this process set
// the same one there already.
func (p *passCtx) setStatus(ctx context.Context, m *migration, s step.Step, pr forge.PullRequest, st forge.Status) error {
	if !p.r.statusChanged(pr.HeadSHA, st) {
		return nil
	}
	err := p.act(ctx, &report.Action{Kind: report.ActionStatus, Migration: m.id(), Step: int(s), Detail: fmt.Sprintf("%s on #%d: %s", st.State, pr.Number, st.Description)},
		func(ctx context.Context) error { return p.r.Forge.SetStatus(ctx, pr.HeadSHA, st) })
	if err == nil && !p.r.DryRun {
		p.r.statusSet(pr.HeadSHA, st)
	}
	return err
}

// openOrHold opens step s: it renders the step on the base head, pushes its branch
// and opens its pull request, adopting a branch or pull request an interrupted pass
// left behind. A step that cannot be written, or whose branch holds work gitmig did
// not write, holds the migration (see blocked).
func (p *passCtx) openOrHold(ctx context.Context, m *migration, status *report.MigrationStatus, s step.Step) error {
	work, err := p.stepCommit(ctx, m, s, p.ws.Head())
	var cannot *StepError
	if errors.As(err, &cannot) {
		return p.blocked(ctx, m, status, s, p.cannotWrite(m, cannot))
	}
	if err != nil {
		return err
	}
	return p.open(ctx, m, status, s, work)
}

// cannotWrite says why a step cannot be written and what fixes it.
func (p *passCtx) cannotWrite(m *migration, cannot *StepError) string {
	return fmt.Sprintf("%v. Fix gitmig.yaml or the overlays so that it can be, or run gitmig abort %s", cannot, m.id())
}

// open pushes the branch of a step's commit and opens its pull request.
func (p *passCtx) open(ctx context.Context, m *migration, status *report.MigrationStatus, s step.Step, work *stepWork) error {
	preview, err := work.change.Preview()
	if err != nil {
		return err
	}
	err = p.pushStepBranch(ctx, m, step.Branch{ID: m.id(), Step: s}, work.sha)
	var foreign *ForeignError
	if errors.As(err, &foreign) {
		return p.blocked(ctx, m, status, s, foreign.Error())
	}
	if err != nil {
		return err
	}
	title := Title(&work.rec, s)
	body := Body(BodyInput{Record: &work.rec, Step: s, Preview: preview, PullRequests: m.prs, Config: p.st.cfg, Change: work.change})
	created, err := p.createPR(ctx, m, s, forge.NewPullRequest{Title: title, Body: body, Head: step.BranchOf(m.id(), s), Base: p.ws.Branch(), Labels: []string{forge.Label}})
	if err != nil {
		return err
	}
	if created.Number != 0 {
		m.prs[s] = created
		status.PullRequests = append(status.PullRequests, prStatus(s, created))
		status.WaitingFor = fmt.Sprintf("review and merge of pull request #%d (step %d %s)", created.Number, int(s), s.Name())
		status.Awaits = report.AwaitsReview
		if p.autoMerge(s) {
			// The next pass merges it, once it has checked the head: no one need act.
			status.WaitingFor = fmt.Sprintf("the next reconcile pass, which merges pull request #%d (step %d %s, gitops.autoMerge)", created.Number, int(s), s.Name())
			status.Awaits = report.AwaitsPass
		}
	} else {
		status.WaitingFor = fmt.Sprintf("the next reconcile pass, which opens step %d (%s)", int(s), s.Name())
		status.Awaits = report.AwaitsPass
	}
	return nil
}

// createPR opens a pull request, or finds the one a racing or interrupted pass opened
// for the same branch, and says which.
func (p *passCtx) createPR(ctx context.Context, m *migration, s step.Step, pr forge.NewPullRequest) (forge.PullRequest, error) {
	var created forge.PullRequest
	a := report.Action{Kind: report.ActionCreatePR, Migration: m.id(), Step: int(s), Detail: pr.Title}
	err := p.act(ctx, &a, func(ctx context.Context) error {
		var err error
		created, err = p.r.Forge.Create(ctx, pr)
		if err == nil && created.Found {
			a.Kind, a.Detail = report.ActionFoundPR, fmt.Sprintf("#%d %s", created.Number, pr.Title)
		}
		return err
	})
	return created, err
}

// pushStepBranch puts the commit gitmig computed, sha, on the step's branch. A branch
// that holds the same change on the same base is kept as it is (a racing or
// interrupted pass left it); one that holds gitmig's own commit on an older base is
// replaced, only from that commit; any other is foreign (a *ForeignError): it is not
// touched.
func (p *passCtx) pushStepBranch(ctx context.Context, m *migration, key step.Branch, sha string) error {
	branch := key.String()
	for attempt := 1; ; attempt++ {
		existing, exists := m.branches[key]
		if exists {
			same, err := p.equivalent(ctx, branch, existing, sha)
			if err != nil || same {
				return err
			}
			why, err := p.notOwn(ctx, m, key, existing)
			if err != nil {
				return err
			}
			if why != "" {
				return &ForeignError{Branch: branch, SHA: existing, Why: why}
			}
		}
		err := p.act(ctx, &report.Action{Kind: report.ActionPushBranch, Migration: m.id(), Step: int(key.Step), Detail: branch},
			func(ctx context.Context) error {
				// Only from what the branch held when it was judged (nothing, when it
				// did not exist): a push meanwhile makes this one fail.
				return p.ws.ReplaceBranch(ctx, branch, existing, sha)
			})
		if !errors.Is(err, workspace.ErrRejected) || attempt == MaxAttempts {
			if err == nil {
				m.branches[key] = sha
			}
			return err
		}
		// The branch changed under this pass: judge what it holds now.
		now, ferr := p.ws.FetchBranch(ctx, branch)
		if ferr != nil {
			return ferr
		}
		m.branches[key] = now
	}
}

// equivalent reports whether the remote branch's commit makes the same tree from the
// same parent as the commit this pass would push.
func (p *passCtx) equivalent(ctx context.Context, branch, remote, local string) (bool, error) {
	if remote == local {
		return true, nil
	}
	if _, err := p.ws.FetchBranch(ctx, branch); err != nil {
		return false, err
	}
	same, err := p.ws.SameTree(remote, local)
	if err != nil || !same {
		return false, err
	}
	return p.ws.IsAncestor(p.ws.Head(), remote)
}

// abort ends a migration whose step pull request was closed without merge.
func (p *passCtx) abort(ctx context.Context, m *migration, status *report.MigrationStatus, pr forge.PullRequest) error {
	closedAt := pr.ClosedAt
	if closedAt.IsZero() {
		closedAt = p.now
	}
	why := fmt.Sprintf("pull request #%d (step %s) was closed without merge at %s", pr.Number, m.merged()+1, closedAt.UTC().Format(time.RFC3339))
	if m.rec.Status.Step > 0 {
		why += fmt.Sprintf("; steps 1-%d stay merged", m.rec.Status.Step)
	}
	until := closedAt.Add(p.st.cfg.Policy.Cooldown.Duration).UTC().Format(time.RFC3339)
	comment := fmt.Sprintf("gitmig: migration `%s` is aborted: %s. Moving %s to %s cools down until %s.",
		m.id(), why, m.rec.Spec.Service, m.rec.Spec.To, until)
	if err := p.act(ctx, &report.Action{Kind: report.ActionComment, Migration: m.id(), Detail: fmt.Sprintf("#%d: aborted", pr.Number)},
		func(ctx context.Context) error { return p.r.Forge.Comment(ctx, pr.Number, comment) }); err != nil {
		return err
	}
	status.Status, status.WaitingFor, status.Message = string(record.Aborted), "", why
	return p.endAt(ctx, m, record.Aborted, why, closedAt)
}

// end records the final phase of a migration on the base branch.
func (p *passCtx) end(ctx context.Context, m *migration, phase record.Phase, message string) error {
	return p.endAt(ctx, m, phase, message, p.now)
}

func (p *passCtx) endAt(ctx context.Context, m *migration, phase record.Phase, message string, at time.Time) error {
	rec := *m.rec
	rec.Status.Phase = phase
	rec.Status.Message = message
	rec.Status.EndedAt = at.UTC()
	for s, pr := range m.prs {
		rec.SetPullRequest(record.PullRequestRef{Step: int(s), Number: pr.Number, URL: pr.URL})
	}
	if err := p.pushRecord(ctx, &rec, fmt.Sprintf("gitmig: %s %s\n\n%s", phaseVerb(phase), rec.ID(), message)); err != nil {
		return err
	}
	*m.rec = rec
	return nil
}

func phaseVerb(phase record.Phase) string {
	switch phase {
	case record.Completed:
		return "complete"
	case record.Aborted:
		return "abort"
	case record.RolledBack:
		return "roll back"
	}
	return "record"
}

// pushRecord commits a record alone to the base branch. Records are not in any overlay,
// so these commits change no cluster; a rejected push restarts the pass.
func (p *passCtx) pushRecord(ctx context.Context, rec *record.Record, message string) error {
	data, err := rec.File()
	if err != nil {
		return err
	}
	edits := []tree.Edit{{Path: record.Path(rec.ID()), Content: data}}
	sha, err := p.ws.Commit(p.ws.Head(), edits, message)
	if err != nil {
		return err
	}
	err = p.act(ctx, &report.Action{Kind: report.ActionRecord, Migration: rec.ID(), Detail: firstLine(message)},
		func(ctx context.Context) error { return p.ws.PushBase(ctx, sha) })
	if err != nil || p.r.DryRun {
		return err
	}
	return p.st.moveTo(sha, edits)
}

func firstLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

// status is the migration as the pass first sees it.
func (p *passCtx) status(m *migration) *report.MigrationStatus {
	s := &report.MigrationStatus{
		ID:        m.id(),
		Service:   m.rec.Spec.Service,
		Namespace: m.rec.Spec.Namespace,
		From:      m.rec.Spec.From,
		To:        m.rec.Spec.To,
		DecidedAt: m.rec.Spec.DecidedAt,
		Step:      m.rec.Status.Step,
		Status:    string(m.rec.Status.Phase),
		Message:   m.rec.Status.Message,

		PolicyOverridden: m.rec.Spec.PolicyOverridden,
	}
	for _, st := range step.All() {
		if pr, ok := m.prs[st]; ok {
			s.PullRequests = append(s.PullRequests, prStatus(st, pr))
		}
	}
	return s
}

func prStatus(s step.Step, pr forge.PullRequest) report.PRStatus {
	return report.PRStatus{Step: int(s), Number: pr.Number, State: string(pr.State), URL: pr.URL, Title: pr.Title, MergedAt: pr.MergedAt}
}

// earliest is the earlier of two times, a zero one counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
