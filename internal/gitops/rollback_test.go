package gitops

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
)

// gateFunc is a gate whose answer the test scripts.
type gateFunc func(req gate.Request) gate.Result

func (f gateFunc) Check(_ context.Context, req gate.Request) (gate.Result, error) { return f(req), nil }

// stuckAt passes every step before stuck and every rollback, and never step stuck.
func stuckAt(stuck step.Step, verdict gate.Verdict) gate.Gate {
	return gateFunc(func(req gate.Request) gate.Result {
		if req.Undo || req.Step < stuck {
			return gate.Passed("applied")
		}
		return gate.Result{Verdict: verdict, Reason: "Deployment orc8r-ns/orc8r in cloud: 0 of 2 replicas available"}
	})
}

func TestStepTimeoutRollsBackByPullRequest(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	r.Gate = stuckAt(1, gate.Wait)
	mustPass(t, r)
	f.mergeOpen()
	// Within stepTimeout the migration waits.
	f.clock.Add(f.cfg.Policy.StepTimeout.Duration - time.Minute)
	rep := mustPass(t, r)
	if len(f.prs()) != 1 || !strings.Contains(rep.Migrations[0].WaitingFor, "0 of 2 replicas available") {
		t.Fatalf("before the timeout: %d pull requests, waiting for %q", len(f.prs()), rep.Migrations[0].WaitingFor)
	}
	f.clock.Add(2 * time.Minute)
	rep = mustPass(t, r)
	prs := f.prs()
	if len(prs) != 2 || prs[1].Title != "gitmig: rollback move orc8r edge→cloud [undo 1/4 deploy]" || prs[1].Head != "gitmig/"+rep.Migrations[0].ID+"/undo-1-deploy" {
		t.Fatalf("after the timeout: %+v", prs)
	}
	if !strings.Contains(prs[1].Body, "was not applied and healthy within policy.stepTimeout (30m0s)") {
		t.Errorf("rollback body lacks the reason:\n%s", prs[1].Body)
	}
	if rep.Migrations[0].Status != report.StatusRollingBack {
		t.Errorf("status %q", rep.Migrations[0].Status)
	}
	// Another pass before the merge opens nothing more.
	mustPass(t, r)
	if len(f.prs()) != 2 {
		t.Fatalf("a second pass opened more: %+v", f.prs())
	}
	f.mergeOpen()
	rep = mustPass(t, r)
	recs := f.records()
	if recs[0].Status.Phase != record.RolledBack || recs[0].Status.Step != 0 || recs[0].Status.Rollback == nil || recs[0].Status.Rollback.FromStep != 1 {
		t.Fatalf("record after the rollback: %+v", recs[0].Status)
	}
	if rep.Migrations[0].Status != string(record.RolledBack) {
		t.Errorf("status %+v", rep.Migrations[0])
	}
	assertBuildsEqualExample(t, f)
	// The pair cools down: the same overloaded metrics start nothing.
	if rep := mustPass(t, r); len(rep.Actions) != 0 {
		t.Errorf("pass after the rollback: %+v", rep.Actions)
	}
}

func TestGateFailAfterTheFlipUndoesStepsNewestFirst(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	r.Gate = stuckAt(3, gate.Fail)
	for i := 0; i < 3; i++ {
		mustPass(t, r)
		f.mergeOpen()
	}
	var undone []string
	for i := 0; i < 3; i++ {
		mustPass(t, r)
		prs := f.prs()
		last := prs[len(prs)-1]
		if last.State != forge.StateOpen {
			t.Fatalf("pass %d opened no rollback: %+v", i, prs)
		}
		undone = append(undone, last.Title[strings.Index(last.Title, "[undo"):])
		f.mergeOpen()
	}
	if got := strings.Join(undone, " "); got != "[undo 3/4 flip] [undo 2/4 route] [undo 1/4 deploy]" {
		t.Fatalf("rollback order: %s", got)
	}
	mustPass(t, r)
	if recs := f.records(); recs[0].Status.Phase != record.RolledBack || !strings.Contains(recs[0].Status.Message, "step 3 (flip) failed its gate") {
		t.Fatalf("record: %+v", recs[0].Status)
	}
	assertBuildsEqualExample(t, f)
	f.git("fsck", "--strict")
}

func mustPass(t *testing.T, r *Reconciler) *report.Report {
	t.Helper()
	rep, err := r.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// assertBuildsEqualExample checks that the remote's overlays build as the fleet's
// fixture did before the migration.
func assertBuildsEqualExample(t *testing.T, f *testFleet) {
	t.Helper()
	now, before := headTree(t, f.remote), f.fixture
	for _, cl := range f.cfg.Clusters {
		a, b := buildYAML(t, now, f.cfg, cl.Name), buildYAML(t, before, f.cfg, cl.Name)
		if a != b {
			t.Errorf("cluster %s after the rollback differs from before the migration:\n%s\n---\n%s", cl.Name, a, b)
		}
	}
}
