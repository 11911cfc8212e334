package gitops

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
	"github.com/gitmig/gitmig/internal/tree"
)

// gitmig puts on a step branch one commit and nothing else: the step's edits and its
// step file, on a commit of the base branch. Anyone who can push a branch could put
// something else there, before gitmig (a branch squatted under a predictable name)
// or after it (a commit pushed onto an open pull request). gitmig opens, adopts,
// replaces and merges only branches that hold its own commit, recomputed from the
// commit's parent, and otherwise refuses and says what it found.

// ForeignError says that a gitmig branch holds work gitmig did not write.
type ForeignError struct {
	Branch string
	SHA    string
	Why    string
}

func (e *ForeignError) Error() string {
	return fmt.Sprintf("branch %s holds %s, which gitmig did not write (%s); gitmig will not open, replace or merge it: delete the branch, or close its pull request, to let gitmig carry on",
		e.Branch, short(e.SHA), e.Why)
}

// StepError says that gitmig cannot write a step of a migration on the fleet as it is:
// the tree is not as the step expects (someone edited it by hand), gitmig.yaml changed
// under the migration, or the step's edits leave an overlay that does not build. It
// holds that migration only; the others go on.
type StepError struct {
	Step step.Step
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("gitmig cannot write step %d (%s): %v", int(e.Step), e.Step.Name(), e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// stepWork is the commit of one step, on one base commit.
type stepWork struct {
	sha    string
	change *render.Change
	rec    record.Record
}

// stepCommit writes the commit of step s of m on commit base: the step's edits,
// rendered on the fleet at base, and the step file. It is the only commit gitmig puts
// on the step's branch.
func (p *passCtx) stepCommit(ctx context.Context, m *migration, s step.Step, base string) (*stepWork, error) {
	model, err := p.modelAt(ctx, base)
	if err != nil {
		return nil, err
	}
	work, edits, err := stepEdits(p.st.cfg, model, *m.rec, s, p.r.Forge.HeadURL(step.BranchOf(m.id(), s)))
	if err != nil {
		return nil, err
	}
	if work.sha, err = p.ws.Commit(base, edits, commitMessage(&work.rec, s, work.change.ClientOnly)); err != nil {
		return nil, err
	}
	return work, nil
}

// stepEdits is what gitmig writes for step s of the migration rec records, on a fleet:
// the step's edits and its step file (record.StepPath), which says the step is merged
// once the commit is. The record itself is left alone, so that reverting the step's
// merge by hand never conflicts with a later record commit. prURL is the step's pull
// request, which Argo CD shows on every object the step writes. A pass and verify
// --step-branch both compute a step here, so that what one writes is what the other
// expects.
func stepEdits(cfg *config.Config, model *fleet.Model, rec record.Record, s step.Step, prURL string) (*stepWork, []tree.Edit, error) {
	mig, err := render.NewMigration(cfg, rec.ID(), rec.Spec.Service, rec.Spec.From, rec.Spec.To)
	if err != nil {
		return nil, nil, &StepError{Step: s, Err: err}
	}
	mig.PullRequest = prURL
	change, err := render.Render(model, mig, s)
	if err != nil {
		return nil, nil, &StepError{Step: s, Err: err}
	}
	marker, err := record.StepFileFor(rec.ID(), s, prURL)
	if err != nil {
		return nil, nil, err
	}
	edits := append(slices.Clone(change.Edits), tree.Edit{Path: record.StepPath(rec.ID(), s), Content: marker})
	return &stepWork{change: change, rec: rec}, edits, nil
}

// modelAt is the fleet at commit base: the pass's own model at its head, else one
// built now, most of it from the cache.
func (p *passCtx) modelAt(ctx context.Context, base string) (*fleet.Model, error) {
	if base == p.st.head {
		return p.st.fleet(ctx)
	}
	files, err := p.ws.Tree(base)
	if err != nil {
		return nil, err
	}
	return p.st.builder.Load(ctx, files, p.st.cfg)
}

// notOwn says why commit sha, the tip of branch key, is not gitmig's own commit for
// key; "" when it is. A verdict is kept for the life of the reconciler: a commit
// does not change.
func (p *passCtx) notOwn(ctx context.Context, m *migration, key step.Branch, sha string) (string, error) {
	memo := key.String() + "@" + sha
	if why, ok := p.r.checked[memo]; ok {
		return why, nil
	}
	why, err := p.judge(ctx, m, key, sha)
	if err != nil {
		return "", err
	}
	if p.r.checked == nil {
		p.r.checked = map[string]string{}
	}
	p.r.checked[memo] = why
	return why, nil
}

// maxForeignCommits bounds how far back a branch is walked to find where it left the
// base branch.
const maxForeignCommits = 20

func (p *passCtx) judge(ctx context.Context, m *migration, key step.Branch, sha string) (string, error) {
	if _, err := p.ws.FetchBranch(ctx, key.String()); err != nil {
		return "", err
	}
	// The branch's commits since it left the base branch, newest first.
	var commits []string
	base := sha
	for {
		onBase, err := p.ws.Descends(ctx, base, p.st.head)
		if err != nil {
			return "", err
		}
		if onBase && base != sha {
			break
		}
		if len(commits) == maxForeignCommits {
			return fmt.Sprintf("it does not start from %s within %d commits", p.ws.Branch(), maxForeignCommits), nil
		}
		parent, err := p.ws.Parent(base)
		if err != nil {
			return "it does not start from " + p.ws.Branch() + ": " + err.Error(), nil
		}
		commits = append(commits, base)
		base = parent
	}
	var want string
	if key.Undo {
		why, w, err := p.undoCommitFor(m, key.Step, sha, base)
		if why != "" || err != nil {
			return why, err
		}
		want = w
	} else {
		work, err := p.stepCommit(ctx, m, key.Step, base)
		var cannot *StepError
		if errors.As(err, &cannot) {
			return fmt.Sprintf("step %s cannot be rendered on %s, where it starts: %v", key.Step, short(base), cannot.Err), nil
		}
		if err != nil {
			return "", err
		}
		want = work.sha
	}
	diff, err := p.differences(want, sha)
	if err != nil || diff == "" {
		return diff, err
	}
	if len(commits) == 1 {
		return diff, nil
	}
	var authors []string
	for _, c := range commits {
		a, err := p.ws.Author(c)
		if err != nil {
			return "", err
		}
		if !slices.Contains(authors, a) {
			authors = append(authors, a)
		}
	}
	return fmt.Sprintf("%d commits on %s by %s; %s", len(commits), short(base), strings.Join(authors, ", "), diff), nil
}

// undoCommitFor is the revert gitmig makes of step k's merge on base, to compare with
// the undo branch's tip, sha. The record's rollback time is gitmig's clock at the
// start of the rollback, so the tip's record is checked for its identity and step, and
// taken as it is.
func (p *passCtx) undoCommitFor(m *migration, k step.Step, sha, base string) (why, want string, err error) {
	merged, ok := m.prs[k]
	if !ok || merged.MergeCommit == "" {
		return fmt.Sprintf("step %s has no merged pull request to undo", k), "", nil
	}
	edits, err := p.ws.Revert(merged.MergeCommit, base, undoes(m.id(), k))
	if err != nil {
		return fmt.Sprintf("reverting #%d on %s: %v", merged.Number, short(base), err), "", nil
	}
	data, ok, err := p.ws.ReadFile(sha, record.Path(m.id()))
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "it lacks the migration's record", "", nil
	}
	rec, err := record.Parse(data)
	if err != nil || !rec.Spec.Equal(m.rec.Spec) || rec.Status.Rollback == nil {
		return "its record is not this rollback's", "", nil
	}
	edits = append(edits, tree.Edit{Path: record.Path(m.id()), Content: data})
	want, err = p.ws.Commit(base, edits, "gitmig's undo, recomputed\n")
	return "", want, err
}

// differences says how commit got differs from the commit gitmig computed, want; ""
// when their trees are the same.
func (p *passCtx) differences(want, got string) (string, error) {
	same, err := p.ws.SameTree(want, got)
	if err != nil || same {
		return "", err
	}
	changes, err := p.ws.Changes(want, got)
	if err != nil {
		return "", err
	}
	var paths []string
	for _, c := range changes {
		paths = append(paths, c.Status+" "+c.Path)
	}
	const shown = 5
	if len(paths) > shown {
		paths = append(paths[:shown], fmt.Sprintf("and %d more", len(paths)-shown))
	}
	return "it differs from gitmig's commit in " + strings.Join(paths, ", "), nil
}

// foreignMarker starts the warning gitmig puts at the top of a pull request whose
// branch holds work it did not write.
const foreignMarker = "> [!WARNING]\n> **gitmig will not merge this pull request**"

// refuseForeign says on the pull request and its commit status that its branch holds
// work gitmig did not write, and holds the migration (see blocked).
func (p *passCtx) refuseForeign(ctx context.Context, m *migration, status *report.MigrationStatus, s step.Step, pr forge.PullRequest, foreign *ForeignError) error {
	st := forge.Status{State: forge.StatusFailure, Context: GateContext, Description: text.Truncate("commits gitmig did not write: "+foreign.Why, 140)}
	if err := p.setStatus(ctx, m, s, pr, st); err != nil {
		return err
	}
	if !strings.HasPrefix(pr.Body, foreignMarker) {
		body := fmt.Sprintf("%s: %s\n>\n> gitmig merges only the commit it wrote for this step. Delete the branch, or close this pull request, and gitmig writes it again.\n\n%s", foreignMarker, foreign.Error(), pr.Body)
		err := p.act(ctx, &report.Action{Kind: report.ActionRefuse, Migration: m.id(), Step: int(s), Detail: fmt.Sprintf("#%d: %s", pr.Number, foreign.Why)},
			func(ctx context.Context) error { return p.r.Forge.UpdateBody(ctx, pr.Number, body) })
		if err != nil {
			return err
		}
	}
	return p.blocked(ctx, m, status, s, fmt.Sprintf("pull request #%d: %v", pr.Number, foreign))
}

// blocked holds a migration whose next step cannot go on, saying why (the step cannot
// be rendered, or its branch holds foreign work). Past policy.stepTimeout since the
// last step merged (since the decision, before step 1), the migration is rolled back,
// its open pull request for the step closed, or ends Aborted when nothing merged: a
// migration never waits for ever.
func (p *passCtx) blocked(ctx context.Context, m *migration, status *report.MigrationStatus, s step.Step, why string) error {
	timeout := p.st.cfg.Policy.StepTimeout.Duration
	since := m.rec.Spec.DecidedAt
	if prev, ok := m.prs[s-1]; ok && !prev.MergedAt.IsZero() {
		since = prev.MergedAt
	}
	if p.now.Sub(since) <= timeout {
		status.WaitingFor = fmt.Sprintf("%s (gitmig rolls back at %s, policy.stepTimeout after %s)", why, since.Add(timeout).UTC().Format(time.RFC3339), since.UTC().Format(time.RFC3339))
		status.Awaits, status.RecheckAt = report.AwaitsReview, since.Add(timeout)
		return nil
	}
	reason := fmt.Sprintf("step %d (%s) could not go on within policy.stepTimeout (%s): %s", int(s), s.Name(), timeout, why)
	if pr, ok := m.prs[s]; ok && pr.State == forge.StateOpen {
		if err := p.closePR(ctx, m, s, pr, "gitmig: closing: "+reason); err != nil {
			return err
		}
	}
	if m.merged() == 0 {
		status.Status, status.WaitingFor, status.Message = string(record.Aborted), "", reason
		return p.end(ctx, m, record.Aborted, reason)
	}
	return p.openUndo(ctx, m, status, m.merged(), reason)
}

// closePR closes a pull request of the migration with a comment.
func (p *passCtx) closePR(ctx context.Context, m *migration, s step.Step, pr forge.PullRequest, comment string) error {
	return p.act(ctx, &report.Action{Kind: report.ActionClose, Migration: m.id(), Step: int(s), Detail: fmt.Sprintf("#%d", pr.Number)},
		func(ctx context.Context) error { return p.r.Forge.Close(ctx, pr.Number, comment) })
}

// rewritten says which merged pull request of m is no longer on the base branch, as
// after a force-push of it; "" when all are.
func (p *passCtx) rewritten(m *migration) (string, error) {
	for _, prs := range []map[step.Step]forge.PullRequest{m.prs, m.undos} {
		for _, s := range slices.Sorted(maps.Keys(prs)) {
			pr := prs[s]
			if pr.State != forge.StateMerged || pr.MergeCommit == "" {
				continue
			}
			on, err := p.ws.IsAncestor(pr.MergeCommit, p.st.head)
			if err != nil {
				return "", err
			}
			if !on {
				return fmt.Sprintf("%s was rewritten: the merge of #%d (step %d %s, %s) is no longer on it", p.ws.Branch(), pr.Number, int(s), s.Name(), short(pr.MergeCommit)), nil
			}
		}
	}
	return "", nil
}

// endRewritten ends a migration whose merged steps left the base branch: its open pull
// requests are closed, and it ends Aborted, so that no step is ever opened twice.
func (p *passCtx) endRewritten(ctx context.Context, m *migration, status *report.MigrationStatus, why string) error {
	for _, prs := range []map[step.Step]forge.PullRequest{m.prs, m.undos} {
		for _, s := range slices.Sorted(maps.Keys(prs)) {
			if pr := prs[s]; pr.State == forge.StateOpen {
				if err := p.closePR(ctx, m, s, pr, "gitmig: closing: "+why+". The migration ends here; check what the base branch now holds."); err != nil {
					return err
				}
			}
		}
	}
	status.Status, status.WaitingFor, status.Message = string(record.Aborted), "", why
	return p.end(ctx, m, record.Aborted, why)
}
