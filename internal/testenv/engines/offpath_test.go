package engines_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/cmd/abort"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	gitmigstep "github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

// The paths people take when a migration goes sideways, with the real engine applying
// every merge and gitmig's real gates judging it: `gitmig abort` after two steps, and
// GitHub's Revert button on the flip. Each ends RolledBack, with the clusters as they
// were before the migration.

func TestAbortWithArgoCD(t *testing.T)      { testAbort(t, config.EngineArgoCD) }
func TestAbortWithFlux(t *testing.T)        { testAbort(t, config.EngineFlux) }
func TestHandRevertWithArgoCD(t *testing.T) { testHandRevert(t, config.EngineArgoCD) }
func TestHandRevertWithFlux(t *testing.T)   { testHandRevert(t, config.EngineFlux) }

// testAbort merges steps 1 and 2, then aborts with step 3 open: gitmig closes it and
// rolls back the route, then the deployment, each by pull request.
func testAbort(t *testing.T, engine string) {
	s := newScenario(t, engine, "30m", nil, argoAllowsEmpty(t))
	baseline := s.fingerprints()
	s.Reconcile()
	s.mergeSteps(2)
	open := s.WaitForPR(stepTitle(3))
	b, ok := gitmigstep.ParseBranch(open.Head)
	if !ok {
		t.Fatalf("step 3's branch %q is not gitmig's", open.Head)
	}
	var out strings.Builder
	err := abort.Run(context.Background(), &abort.Options{
		Globals: &cmdutil.Globals{Repo: s.Repo, Config: s.ConfigPath},
		Streams: cmdutil.Streams{Out: &out, Err: io.Discard},
		ID:      b.ID, By: "alice", Reason: "the move is not wanted after all",
		Env: func(string) string { return "" }, Now: time.Now,
	})
	if err != nil {
		t.Fatalf("gitmig abort %s: %v\n%s", b.ID, err, out.String())
	}
	if pr := s.pr(open.Number); pr.State != forge.StateClosed {
		t.Errorf("after the abort, step 3's pull request #%d is %s, want closed", pr.Number, pr.State)
	}
	s.mergeUndos(2, 1)
	s.assertRolledBack(baseline)
}

// testHandRevert merges steps 1 to 3, then reverts the flip's merge on the base branch
// by hand, as GitHub's Revert button would: gitmig sees it and rolls back the route
// and the deployment by pull request.
func testHandRevert(t *testing.T, engine string) {
	s := newScenario(t, engine, "30m", nil, argoAllowsEmpty(t))
	baseline := s.fingerprints()
	s.Reconcile()
	flip := s.mergeSteps(3)
	cleanup := s.WaitForPR(stepTitle(4))

	dir := filepath.Join(t.TempDir(), "alice")
	gittest.Run(t, "", "clone", "--quiet", s.Git.URL, dir)
	gittest.Run(t, dir, "-c", "user.name=alice", "-c", "user.email=alice@example.com", "revert", "--no-edit", "-m", "1", flip.MergeCommit)
	gittest.Run(t, dir, "push", "--quiet", "origin", "HEAD:main")
	s.Pushed()
	s.Refresh("edge")
	s.WaitApplied("edge", gittest.Run(t, dir, "rev-parse", "HEAD"))
	s.assertEdgeServes("after the hand revert of the flip")

	s.mergeUndos(2, 1)
	s.assertRolledBack(baseline)
	if pr := s.pr(cleanup.Number); pr.State != forge.StateClosed {
		t.Errorf("after the hand revert, step 4's pull request #%d is %s, want closed", pr.Number, pr.State)
	}
}

// stepTitle and undoTitle are the titles of the pull requests of step n of the
// example's migration and of its rollback.
func stepTitle(n int) string {
	return fmt.Sprintf("gitmig: move orc8r edge→cloud [%d/4 %s]", n, gitmigstep.Step(n).Name())
}

func undoTitle(n int) string {
	return fmt.Sprintf("gitmig: rollback move orc8r edge→cloud [undo %d/4 %s]", n, gitmigstep.Step(n).Name())
}

// mergeSteps merges steps 1 to last as they open, each once the engine has applied
// the one before, and returns the last one merged.
func (s *scenario) mergeSteps(last int) forge.PullRequest {
	s.t.Helper()
	var merged forge.PullRequest
	for n := 1; n <= last; n++ {
		merged = s.Merge(s.WaitForPR(stepTitle(n)))
		cluster := "cloud"
		if n >= 3 {
			cluster = "edge"
		}
		s.WaitApplied(cluster, merged.MergeCommit)
	}
	return merged
}

// mergeUndos merges the rollback pull requests of the given steps, in that order,
// each once it opens, and waits for the engine to apply it.
func (s *scenario) mergeUndos(steps ...int) {
	s.t.Helper()
	for _, n := range steps {
		merged := s.Merge(s.WaitForPR(undoTitle(n)))
		s.WaitApplied("cloud", merged.MergeCommit)
	}
}

// assertRolledBack waits for the migration to end RolledBack and checks that every
// cluster is as it was before it.
func (s *scenario) assertRolledBack(baseline map[string]map[string]string) {
	s.t.Helper()
	s.WaitForPhase(record.RolledBack)
	err := s.Eventually(4*time.Minute, func() error {
		if s.get("cloud", deployments, "orc8r-ns", "orc8r") != nil {
			return fmt.Errorf("orc8r still in cloud")
		}
		return nil
	})
	if err != nil {
		s.t.Error(err)
	}
	s.assertEdgeServes("rolled back")
	if diff := diffFingerprints(baseline, s.fingerprints(), ""); diff != "" {
		s.t.Errorf("rolled back: the clusters differ from before the migration:\n%s", diff)
	}
}

// pr returns pull request n as the forge has it now.
func (s *scenario) pr(n int) forge.PullRequest {
	s.t.Helper()
	prs, err := s.Forge.List(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, pr := range prs {
		if pr.Number == n {
			return pr
		}
	}
	s.t.Fatalf("no pull request #%d", n)
	return forge.PullRequest{}
}
