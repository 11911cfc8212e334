package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
)

// StepCheck is how a step branch compares with the step gitmig writes.
type StepCheck struct {
	Branch    string `json:"branch"`
	Head      string `json:"head"`
	Migration string `json:"migration"`
	// Step is the step the branch names, such as 1-deploy.
	Step string `json:"step"`
	// Base is the base branch commit the branch starts from.
	Base string `json:"base,omitempty"`
	// Skipped says why the branch was not compared; Problems is then empty.
	Skipped string `json:"skipped,omitempty"`
	// Problems say how the branch differs from the step: each names a file or a commit.
	// None when the branch is exactly the commit gitmig writes.
	Problems []string `json:"problems,omitempty"`
}

// CheckStepBranch checks that head, the tip of a gitmig step branch
// (gitmig/<id>/<n>-<step>), is exactly what gitmig writes for that step: one commit on
// top of the base branch (ws.Head) whose tree is its parent's with step n of migration
// <id> rendered, and the migration record updated, as a reconcile pass opens it. The
// record comes from the parent, or for step 1 from the branch if the parent lacks it;
// gitmig.yaml from the parent, as a pass reads it from the base branch. headURL is the
// forge's link to the branch's pull request, which gitmig writes into the step's
// objects; builder builds the overlays (nil: without a cache). ws must hold the base
// branch and head's commits. Rollback branches (gitmig/<id>/undo-<n>-<step>) are
// skipped: their content depends on the merge commit they revert.
func CheckStepBranch(ctx context.Context, ws *workspace.Workspace, builder *fleet.Builder, branch, head string, headURL func(branch string) string) (*StepCheck, error) {
	b, ok := step.ParseBranch(branch)
	if !ok {
		return nil, fmt.Errorf("%s is not a gitmig step branch (%s<migration id>/<n>-<step>)", branch, step.BranchPrefix)
	}
	check := &StepCheck{Branch: branch, Head: head, Migration: b.ID, Step: b.Step.String()}
	if b.Undo {
		check.Skipped = "rollback branches are not checked: what they write depends on the merged step they revert"
		return check, nil
	}
	base, commits, err := ws.OnTop(head)
	if err != nil {
		return nil, err
	}
	check.Base = base
	switch len(commits) {
	case 0:
		check.Problems = append(check.Problems, fmt.Sprintf("no commit on top of %s: the branch is merged or empty", ws.Branch()))
		return check, nil
	case 1:
	default:
		var list []string
		for _, c := range commits {
			list = append(list, fmt.Sprintf("%s %q", short(c.Hash), c.Subject))
		}
		check.Problems = append(check.Problems, fmt.Sprintf("%d commits on top of %s at %s, gitmig writes one: %s",
			len(commits), ws.Branch(), short(base), strings.Join(list, ", ")))
	}

	t, err := ws.Tree(base)
	if err != nil {
		return nil, err
	}
	cfg, err := (&Reconciler{}).config(t)
	if err != nil {
		return nil, err
	}
	if builder == nil {
		builder = fleet.NewBuilder(nil, 0)
	}
	model, err := builder.Load(ctx, t, cfg)
	if err != nil {
		return nil, fmt.Errorf("building the overlays at %s: %w", short(base), err)
	}
	path := record.Path(b.ID)
	rec, err := readRecord(ws, base, path)
	if err == nil && rec == nil && b.Step == step.Deploy {
		// A step 1 that brings its record along: the branch's record, as decided.
		if rec, err = readRecord(ws, head, path); rec != nil {
			rec.Status.Step = 0
		}
	}
	if err != nil {
		return nil, err
	}
	if rec == nil {
		check.Problems = append(check.Problems, fmt.Sprintf("%s: no such migration record at %s", path, short(base)))
		return check, nil
	}
	if rec.Status.Step != int(b.Step)-1 {
		check.Problems = append(check.Problems, fmt.Sprintf("%s at %s says step %d is merged: the next step is %d, not %d", path, short(base), rec.Status.Step, rec.Status.Step+1, b.Step))
		return check, nil
	}
	// A pass writes the record with the pull requests of the earlier steps it knows
	// from the forge; the branch's own record says which.
	var earlier []record.PullRequestRef
	if onBranch, err := readRecord(ws, head, path); err == nil && onBranch != nil {
		for _, pr := range onBranch.Status.PullRequests {
			if pr.Step < int(b.Step) {
				earlier = append(earlier, pr)
			}
		}
	}
	_, edits, err := stepEdits(cfg, model, *rec, b.Step, headURL(branch), earlier)
	var cannot *StepError
	if errors.As(err, &cannot) {
		check.Problems = append(check.Problems, fmt.Sprintf("gitmig cannot write step %s on %s: %v", b.Step, short(base), cannot.Err))
		return check, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	diffs, err := ws.Differences(base, edits, head)
	if err != nil {
		return nil, err
	}
	what := map[string]string{
		"A": "on the branch, but not in what gitmig writes",
		"D": "missing from the branch",
		"M": "differs from what gitmig writes",
	}
	for _, d := range diffs {
		check.Problems = append(check.Problems, fmt.Sprintf("%s: %s for step %s", d.Path, what[d.Status], b.Step))
	}
	return check, nil
}

// readRecord reads and parses a migration record at a commit; nil when it is absent.
func readRecord(ws *workspace.Workspace, sha, path string) (*record.Record, error) {
	data, ok, err := ws.ReadFile(sha, path)
	if err != nil || !ok {
		return nil, err
	}
	rec, err := record.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", path, short(sha), err)
	}
	return rec, nil
}
