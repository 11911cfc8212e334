package engines_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/cmd/abort"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	gitmigstep "github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/engines"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

// The paths people take when a migration goes sideways, with the real engine applying
// every merge and gitmig's real gates judging it: `gitmig abort` after two steps,
// GitHub's Revert button on the flip, and a gitmig.yaml change that leaves the next
// step nothing to write. Each ends RolledBack, with the clusters as they were before
// the migration.

func TestAbortWithArgoCD(t *testing.T)          { testAbort(t, config.EngineArgoCD) }
func TestAbortWithFlux(t *testing.T)            { testAbort(t, config.EngineFlux) }
func TestHandRevertWithArgoCD(t *testing.T)     { testHandRevert(t, config.EngineArgoCD) }
func TestHandRevertWithFlux(t *testing.T)       { testHandRevert(t, config.EngineFlux) }
func TestUnwritableStepWithArgoCD(t *testing.T) { testUnwritableStep(t, config.EngineArgoCD) }
func TestUnwritableStepWithFlux(t *testing.T)   { testUnwritableStep(t, config.EngineFlux) }

// testAbort merges steps 1 and 2, then aborts with step 3 open: gitmig closes it and
// rolls back the route, then the deployment, each by pull request.
func testAbort(t *testing.T, engine string) {
	s := newScenario(t, engine, setup{allowEmpty: argoAllowsEmpty(t)})
	baseline := s.fingerprints()
	s.Reconcile()
	s.mergeSteps(orc8rToCloud, 2)
	open := s.WaitForPR(orc8rToCloud.title(3))
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
	s.mergeUndos(orc8rToCloud, 2, 1)
	s.assertRolledBack(orc8rToCloud, baseline)
}

// testHandRevert merges steps 1 to 3 of the example's move, then reverts the flip's
// merge on the base branch by hand, as GitHub's Revert button would: gitmig sees it
// and rolls back the route and the deployment by pull request.
func testHandRevert(t *testing.T, engine string) {
	s := newScenario(t, engine, setup{allowEmpty: argoAllowsEmpty(t)})
	s.handRevert(orc8rToCloud, false)
}

// handRevert is testHandRevert for a move, started by hand when byHand is set.
func (s *scenario) handRevert(m move, byHand bool) {
	t := s.t
	baseline := s.fingerprints()
	s.Reconcile()
	if byHand {
		if err := s.migrateByHand(m, false); err != nil {
			t.Fatalf("gitmig migrate %s --to %s: %v", m.app.name, m.to, err)
		}
	}
	flip := s.mergeSteps(m, 3)
	cleanup := s.WaitForPR(m.title(4))

	dir := s.cloneAsAlice()
	gittest.Run(t, dir, "revert", "--no-edit", "-m", "1", flip.MergeCommit)
	gittest.Run(t, dir, "push", "--quiet", "origin", "HEAD:main")
	s.Pushed()
	s.Refresh(m.from)
	s.WaitApplied(m.from, gittest.Run(t, dir, "rev-parse", "HEAD"))
	s.assertSourceServes(m, "after the hand revert of the flip")

	s.mergeUndos(m, 2, 1)
	s.assertRolledBack(m, baseline)
	if pr := s.pr(cleanup.Number); pr.State != forge.StateClosed {
		t.Errorf("after the hand revert, step 4's pull request #%d is %s, want closed", pr.Number, pr.State)
	}
}

// testUnwritableStep changes gitmig.yaml on main while step 1 waits for review:
// cloud's Traefik loses the entry point of orc8r's api port, so step 2 has nowhere to
// route it. Once the engine has applied step 1 and orc8r is healthy in cloud, step 1's
// gate fails on its pull request, saying why and what to do; step 2 never opens, and
// after stepTimeout gitmig rolls step 1 back.
func testUnwritableStep(t *testing.T, engine string) {
	const stepTimeout = time.Minute
	s := newScenario(t, engine, setup{stepTimeout: stepTimeout, allowEmpty: argoAllowsEmpty(t)})
	baseline := s.fingerprints()
	s.Reconcile()
	deploy := s.WaitForPR(orc8rToCloud.title(1))

	dir := s.cloneAsAlice()
	path := filepath.Join(dir, "gitmig.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := string(data)
	cloud := strings.Index(edited, "  - name: cloud\n")
	api := -1
	if cloud >= 0 {
		api = strings.Index(edited[cloud:], "api: 8080")
	}
	if api < 0 {
		t.Fatalf("no api entry point for cloud in gitmig.yaml:\n%s", edited)
	}
	api += cloud
	edited = edited[:api] + "admin: 9444" + edited[api+len("api: 8080"):]
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, dir, "commit", "--quiet", "-am", "cloud: api moves to another port")
	gittest.Run(t, dir, "push", "--quiet", "origin", "HEAD:main")
	s.Pushed()

	merged := s.Merge(deploy)
	s.WaitApplied("cloud", merged.MergeCommit)
	err = s.Eventually(engines.StepWait, func() error {
		statuses, err := s.Forge.Statuses(context.Background(), deploy.HeadSHA)
		if err != nil {
			return err
		}
		for _, st := range statuses {
			if st.Context == gitops.GateContext && st.State == forge.StatusFailure &&
				strings.Contains(st.Description, "gitmig cannot write step 2 (route)") {
				return nil
			}
		}
		return fmt.Errorf("step 1's statuses: %+v", statuses)
	})
	if err != nil {
		t.Fatalf("step 1's gate: %v\ngitmig %s's last output:\n%s", err, s.Loop, s.Log.Tail(30))
	}
	s.assertSourceServes(orc8rToCloud, "step 2 cannot be written")

	undo := s.WaitForPR(orc8rToCloud.undoTitle(1))
	if wait := undo.CreatedAt.Sub(merged.MergedAt); wait < stepTimeout {
		t.Errorf("the rollback opened %s after the merge, before stepTimeout %s", wait, stepTimeout)
	}
	s.mergeUndos(orc8rToCloud, 1)
	s.assertRolledBack(orc8rToCloud, baseline)
	prs, err := s.Forge.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range prs {
		if pr.Title == orc8rToCloud.title(2) {
			t.Errorf("step 2 opened as #%d, though it cannot be written", pr.Number)
		}
	}
}

// cloneAsAlice clones the fleet repository as a person on the team who commits to it
// by hand, and returns the clone.
func (s *scenario) cloneAsAlice() string {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), "alice")
	gittest.Run(s.t, "", "clone", "--quiet", s.Git.URL, dir)
	gittest.Run(s.t, dir, "config", "user.name", "alice")
	gittest.Run(s.t, dir, "config", "user.email", "alice@example.com")
	return dir
}

// move is one migration a scenario runs: a workload from one cluster to another.
type move struct {
	app      workload
	from, to string
	// repoints are the clusters whose ExternalNames an earlier move pointed at from,
	// which step 3 re-points at to.
	repoints []string
	// clientOnly is set for a workload with no Service: steps 2 and 3 change no overlay.
	clientOnly bool
}

// orc8rToCloud is the move the example's metrics snapshot decides.
var orc8rToCloud = move{app: orc8r, from: "edge", to: "cloud"}

// title and undoTitle are the titles of the pull requests of step n of the move and
// of its rollback.
func (m move) title(n int) string {
	return fmt.Sprintf("gitmig: move %s %s→%s [%d/4 %s]", m.app.name, m.from, m.to, n, gitmigstep.Step(n).Name())
}

func (m move) undoTitle(n int) string {
	return fmt.Sprintf("gitmig: rollback move %s %s→%s [undo %d/4 %s]", m.app.name, m.from, m.to, n, gitmigstep.Step(n).Name())
}

// clusters are those whose overlays step n of the move changes, and so whose engine
// applies its merge.
func (m move) clusters(n int) []string {
	switch {
	case m.clientOnly && (n == 2 || n == 3):
		return nil
	case n <= 2:
		return []string{m.to}
	case n == 3:
		return append([]string{m.from}, m.repoints...)
	}
	return []string{m.from}
}

// mergeSteps merges steps 1 to last of the move as they open, each once the engine
// has applied the one before, and returns the last one merged.
func (s *scenario) mergeSteps(m move, last int) forge.PullRequest {
	s.t.Helper()
	var merged forge.PullRequest
	for n := 1; n <= last; n++ {
		merged = s.mergeStep(m, n)
	}
	return merged
}

// mergeStep merges step n of the move once it opens, and waits for the engine to
// apply it.
func (s *scenario) mergeStep(m move, n int) forge.PullRequest {
	s.t.Helper()
	merged := s.Merge(s.WaitForPR(m.title(n)))
	for _, cluster := range m.clusters(n) {
		s.WaitApplied(cluster, merged.MergeCommit)
	}
	return merged
}

// mergeUndos merges the rollback pull requests of the given steps of the move, in
// that order, each once it opens, and waits for the engine to apply it.
func (s *scenario) mergeUndos(m move, steps ...int) {
	s.t.Helper()
	for _, n := range steps {
		merged := s.Merge(s.WaitForPR(m.undoTitle(n)))
		for _, cluster := range m.clusters(n) {
			s.WaitApplied(cluster, merged.MergeCommit)
		}
	}
}

// assertRolledBack waits for the move to end RolledBack and checks that every cluster
// returns to as it was before it.
func (s *scenario) assertRolledBack(m move, baseline map[string]map[string]string) {
	s.t.Helper()
	s.WaitForPhase(record.RolledBack)
	err := s.Eventually(engines.StepWait, func() error {
		if s.get(m.to, deployments, m.app.namespace, m.app.name) != nil {
			return fmt.Errorf("%s still in %s", m.app.name, m.to)
		}
		// A Namespace step 1 added goes once its controller has emptied it.
		if diff := diffFingerprints(baseline, s.fingerprints(), ""); diff != "" {
			return fmt.Errorf("the clusters differ from before the migration:\n%s", diff)
		}
		return nil
	})
	if err != nil {
		s.t.Errorf("rolled back: %v", err)
	}
	s.assertSourceServes(m, "rolled back")
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
