package gitops

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// newMetroFleet is the metro fleet of internal/render's tests in a bare remote with the
// local forge and engine none: sessiond moves from metro-east to metro-west, whose
// overlay is at overlays/metro/west, not clusters/<name>. It plans nothing: migrations
// start by hand.
func newMetroFleet(t *testing.T) *testFleet {
	t.Helper()
	fixture := os.DirFS(filepath.Join("..", "render", "testdata", "fleets", "metro"))
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f := &testFleet{t: t, remote: filepath.Join(t.TempDir(), "metro.git"), clock: &testClock{now: start}, fixture: tree.FromFS(fixture)}
	var err error
	if f.seed, err = workspace.Seed(f.remote, "main", fixture, "gitmig", "gitmig@localhost", start); err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(fixture, "gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg, err = config.Parse(data); err != nil {
		t.Fatal(err)
	}
	f.cfg.GitOps = config.GitOps{Remote: f.remote, Branch: "main", Engine: config.EngineNone, Forge: config.ForgeLocal, DNS: f.cfg.GitOps.DNS}
	f.forge = f.newForge()
	return f
}

// metroReconciler starts sessiond's move to metro-west by hand and returns the
// reconciler, which has no metrics: nothing else starts. Policy refuses a move it
// cannot weigh without metrics, so the test forces it; what it tests comes after.
func (f *testFleet) metroReconciler() *Reconciler {
	f.t.Helper()
	r := f.reconciler()
	if _, err := r.Start(context.Background(), StartRequest{Service: "sessiond", From: "metro-east", To: "metro-west", Reason: "a test moves it by hand", Force: true}); err != nil {
		f.t.Fatal(err)
	}
	return r
}

// revertByHand reverts the merge of step s's pull request as a person would, with the
// git CLI: `git revert -m 1` of the merge on a branch that is merged by pull request,
// as GitHub's Revert button makes it, or (viaPR false) the revert commit pushed to main.
// A revert that does not apply cleanly fails the test. It returns the commit that
// reverted the step on main.
func (f *testFleet) revertByHand(s step.Step, viaPR bool) string {
	f.t.Helper()
	var merge string
	for _, pr := range f.prs() {
		if b, ok := step.ParseBranch(pr.Head); ok && !b.Undo && b.Step == s && pr.State == forge.StateMerged {
			merge = pr.MergeCommit
		}
	}
	if merge == "" {
		f.t.Fatalf("step %d has no merged pull request: %+v", s, f.prs())
	}
	person := newAttacker(f)
	person.git("config", "user.name", "Riley Reviewer")
	person.git("config", "user.email", "riley@example.test")
	person.git("checkout", "-q", "-B", "revert", "origin/main")
	person.git("revert", "--no-edit", "-m", "1", merge)
	if !viaPR {
		person.git("push", "-q", "origin", "HEAD:refs/heads/main")
		return person.git("rev-parse", "HEAD")
	}
	branch := fmt.Sprintf("revert-%s-%d", short(merge), s)
	person.git("push", "-q", "origin", "HEAD:refs/heads/"+branch)
	ctx := context.Background()
	pr, err := f.forge.Create(ctx, forge.NewPullRequest{Title: fmt.Sprintf("Revert step %s", s), Head: branch, Base: "main"})
	if err != nil {
		f.t.Fatal(err)
	}
	merged, err := f.forge.Merge(ctx, pr.Number, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return merged.MergeCommit
}

// undoTitles are the steps the rollback pull requests undo, in the order they were
// opened: "[undo 2/4 route] [undo 1/4 deploy]".
func undoTitles(prs []forge.PullRequest) string {
	var undone []string
	for _, pr := range prs {
		if i := strings.Index(pr.Title, "[undo"); i >= 0 {
			undone = append(undone, pr.Title[i:])
		}
	}
	return strings.Join(undone, " ")
}

// rollBackToTheEnd runs passes, merging each rollback pull request as it opens, until
// the migration ends, and returns the last pass's report.
func (f *testFleet) rollBackToTheEnd(r *Reconciler) *report.Report {
	f.t.Helper()
	for range 12 {
		rep := mustPass(f.t, r)
		if len(rep.Migrations) > 0 && rep.Migrations[0].Status != report.StatusRollingBack && rep.Migrations[0].Status != string(record.InProgress) {
			return rep
		}
		for _, pr := range f.prs() {
			if pr.State == forge.StateOpen && strings.Contains(pr.Head, "/undo-") {
				if _, err := f.forge.Merge(context.Background(), pr.Number, ""); err != nil {
					f.t.Fatal(err)
				}
			}
		}
		f.clock.Add(time.Minute)
	}
	f.t.Fatal("the rollback did not end in 12 passes")
	return nil
}

// A person reverts the newest merged step on main, with GitHub's Revert button or a
// revert commit: the revert applies cleanly, gitmig closes the next step's pull
// request, rolls the other merged steps back by pull request, newest first, and the
// migration ends RolledBack with the fleet as it was before.
func TestHandRevertOfAStepRollsBackTheRest(t *testing.T) {
	for _, tc := range []struct {
		reverted step.Step
		viaPR    bool
		undos    string
	}{
		{step.Deploy, true, ""},
		{step.Route, false, "[undo 1/4 deploy]"},
		{step.Flip, true, "[undo 2/4 route] [undo 1/4 deploy]"},
		{step.Cleanup, false, "[undo 3/4 flip] [undo 2/4 route] [undo 1/4 deploy]"},
	} {
		t.Run(fmt.Sprintf("step %s by %s", tc.reverted, map[bool]string{true: "pull request", false: "push"}[tc.viaPR]), func(t *testing.T) {
			f := newFleet(t)
			r := f.reconciler()
			// Step 4's gate never passes, so that it can be reverted before completion.
			r.Gate = gate.Hold{Inner: stuckAt(step.Cleanup, gate.Wait), Settle: f.cfg.Policy.RouteSettle.Duration, Drain: f.cfg.Policy.Drain.Duration}
			for range tc.reverted {
				mustPass(t, r)
				f.mergeOpen()
				f.clock.Add(f.cfg.Policy.Drain.Duration + time.Minute)
			}
			rep := mustPass(t, r) // opens the next step, if any
			if rep.Migrations[0].Step != int(tc.reverted) {
				t.Fatalf("before the revert: %+v", rep.Migrations[0])
			}
			next := f.prs()[len(f.prs())-1]
			revert := f.revertByHand(tc.reverted, tc.viaPR)

			rep = mustPass(t, r)
			m := rep.Migrations[0]
			if tc.reverted == step.Deploy {
				if m.Status != string(record.RolledBack) {
					t.Fatalf("after reverting the only merged step: %+v", m)
				}
			} else if m.Status != report.StatusRollingBack || !strings.Contains(m.WaitingFor, fmt.Sprintf("undo step %d", int(tc.reverted)-1)) {
				t.Fatalf("after the revert: %+v", m)
			}
			if next.State == forge.StateOpen {
				for _, pr := range f.prs() {
					if pr.Number == next.Number && pr.State != forge.StateClosed {
						t.Errorf("the next step's pull request #%d is %s, want closed", pr.Number, pr.State)
					}
				}
			}
			rep = f.rollBackToTheEnd(r)
			if got := undoTitles(f.prs()); got != tc.undos {
				t.Errorf("rollback pull requests: %q, want %q", got, tc.undos)
			}
			recs := f.records()
			want := fmt.Sprintf("step %d (%s), #%d, was reverted by hand on main in %s", int(tc.reverted), tc.reverted.Name(), int(tc.reverted), short(revert))
			if recs[0].Status.Phase != record.RolledBack || recs[0].Status.Step != 0 || !strings.Contains(recs[0].Status.Message, want) {
				t.Fatalf("record: %+v, want RolledBack saying %q", recs[0].Status, want)
			}
			if rep.Migrations[0].Status != string(record.RolledBack) {
				t.Errorf("status: %+v", rep.Migrations[0])
			}
			assertBuildsEqualExample(t, f)
			if inFlight := Constraints(f.cfg, recs, f.clock.Now()).InFlight; len(inFlight) != 0 {
				t.Errorf("the rolled-back migration still holds a slot: %+v", inFlight)
			}
			if rep := mustPass(t, r); len(rep.Actions) != 0 {
				t.Errorf("a pass after the end acted: %+v", rep.Actions)
			}
			f.git("fsck", "--strict")
		})
	}
}

// Reverting a step by hand applies cleanly whatever gitmig committed to main after the
// step's merge: after a completed migration, reverting step 4 meets the record commit
// that completed it, which no longer shares a file with the step.
func TestHandRevertAppliesAfterLaterRecordCommits(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	f.drive(r)
	if recs := f.records(); recs[0].Status.Phase != record.Completed || !slices.Equal(recs[0].Status.Steps, step.All()) {
		t.Fatalf("record: %+v", recs[0].Status)
	}
	f.revertByHand(step.Cleanup, true)
	recs := f.records()
	if recs[0].Status.Phase != record.Completed || recs[0].Status.Step != int(step.Flip) {
		t.Errorf("after reverting step 4: %+v, want the Completed record, its step files at step 3", recs[0].Status)
	}
	if strings.Contains(f.git("ls-tree", "-r", "--name-only", "main", "clusters/edge/"), "externalname-orc8r") {
		t.Error("the revert left step 4's ExternalName in edge")
	}
	f.git("fsck", "--strict")
}

// A revert by hand of the route on the metro fleet, whose destination overlay is at
// overlays/metro/west: the deploy is rolled back by pull request, and every overlay
// builds as before.
func TestHandRevertOnAFleetWithOverlaysElsewhere(t *testing.T) {
	f := newMetroFleet(t)
	r := f.metroReconciler()
	for range 2 {
		mustPass(t, r)
		f.mergeOpen()
		f.clock.Add(f.cfg.Policy.RouteSettle.Duration + time.Second)
	}
	rep := mustPass(t, r)
	if rep.Migrations[0].Step != 2 || len(f.prs()) != 3 {
		t.Fatalf("before the revert: %+v, %d pull requests", rep.Migrations[0], len(f.prs()))
	}
	if !strings.Contains(f.git("ls-tree", "-r", "--name-only", "main"), "overlays/metro/west/gitmig/ingressroute-sessiond.yaml") {
		t.Fatal("step 2 wrote no route under overlays/metro/west")
	}
	f.revertByHand(step.Route, true)
	f.rollBackToTheEnd(r)
	if got := undoTitles(f.prs()); got != "[undo 1/4 deploy]" {
		t.Errorf("rollback pull requests: %q", got)
	}
	recs := f.records()
	if recs[0].Status.Phase != record.RolledBack || !strings.Contains(recs[0].Status.Message, "reverted by hand") {
		t.Fatalf("record: %+v", recs[0].Status)
	}
	assertBuildsEqualExample(t, f)
	f.git("fsck", "--strict")
}

// The steps still merged are not undone before the engine has applied the revert by
// hand: undoing the route while the flip's revert is not applied would cut traffic.
func TestHandRevertIsGatedLikeARollback(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	applied := false
	var asked []gate.Request
	r.Gate = gateFunc(func(req gate.Request) gate.Result {
		if req.Undo {
			asked = append(asked, req)
			if !applied {
				return gate.Waiting("edge has not synced %s", short(req.MergeCommit))
			}
		}
		return gate.Passed("applied")
	})
	for range 3 {
		mustPass(t, r)
		f.mergeOpen()
	}
	revert := f.revertByHand(step.Flip, true)
	rep := mustPass(t, r)
	if m := rep.Migrations[0]; m.Status != report.StatusRollingBack || !strings.Contains(m.WaitingFor, "rollback of step 3 to be applied: edge has not synced "+short(revert)) {
		t.Fatalf("before the revert is applied: %+v", m)
	}
	if len(asked) != 1 || asked[0].Step != step.Flip || asked[0].Cluster != "edge" || asked[0].MergeCommit != revert {
		t.Fatalf("gate requests: %+v, want one for the revert %s of step 3 in edge", asked, revert)
	}
	if got := undoTitles(f.prs()); got != "" {
		t.Fatalf("a rollback opened before the revert was applied: %s", got)
	}
	applied = true
	mustPass(t, r)
	if got := undoTitles(f.prs()); got != "[undo 2/4 route]" {
		t.Fatalf("after the revert is applied: %q", got)
	}
}

// Every step pull request's rollback note names the ways back that gitmig carries to
// RolledBack (gitmig abort, a revert of the merge by hand, which the tests above
// follow), and says honestly what closing it unmerged leaves.
func TestBodyRollbackNoteSaysWhatWorks(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	f.drive(r)
	id := f.records()[0].ID()
	prs := f.prs()
	if len(prs) != 4 {
		t.Fatalf("pull requests: %+v", prs)
	}
	for i, pr := range prs {
		s := step.Step(i + 1)
		_, note, ok := strings.Cut(pr.Body, "\n### Rolling back\n\n")
		if !ok {
			t.Fatalf("step %d's body has no rollback note:\n%s", s, pr.Body)
		}
		note, _, _ = strings.Cut(note, "\n---\n")
		for _, want := range []string{
			"run `gitmig abort " + id + "`",
			"newest first",
			"ends RolledBack",
			"revert its merge commit on the base branch (GitHub's Revert button, or `git revert -m 1`)",
			"while no later step is",
			"Once it is Completed, gitmig undoes nothing: move orc8r back with `gitmig migrate orc8r --to edge`",
		} {
			if !strings.Contains(note, want) {
				t.Errorf("step %d's rollback note lacks %q:\n%s", s, want, note)
			}
		}
		closing := "Closing this pull request without merging ends the migration Aborted; nothing was merged."
		if s > step.Deploy {
			closing = fmt.Sprintf("Closing this pull request without merging ends the migration Aborted and leaves steps 1-%d merged", int(s)-1)
		}
		if !strings.Contains(note, closing) {
			t.Errorf("step %d's rollback note lacks %q:\n%s", s, closing, note)
		}
		if strings.Contains(note, "steps 4 and then 3") {
			t.Errorf("step %d's rollback note still asks for two reverts by hand:\n%s", s, note)
		}
	}
}
