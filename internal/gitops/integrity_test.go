package gitops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
)

// attacker is a clone of the remote in which someone other than gitmig commits and
// pushes, with the git CLI.
type attacker struct {
	f   *testFleet
	dir string
}

func newAttacker(f *testFleet) *attacker {
	f.t.Helper()
	dir := filepath.Join(f.t.TempDir(), "attacker")
	if out, err := exec.Command("git", "clone", "-q", f.remote, dir).CombinedOutput(); err != nil {
		f.t.Fatalf("git clone: %v\n%s", err, out)
	}
	a := &attacker{f: f, dir: dir}
	a.git("config", "user.name", "mallory")
	a.git("config", "user.email", "mallory@example.test")
	return a
}

func (a *attacker) git(args ...string) string {
	a.f.t.Helper()
	out, err := exec.Command("git", append([]string{"-C", a.dir}, args...)...).CombinedOutput()
	if err != nil {
		a.f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commitOn checks out ref (fetched from the remote), writes a file, commits and pushes
// the result to branch.
func (a *attacker) commitOn(ref, branch, file, content string) string {
	a.f.t.Helper()
	a.git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
	a.git("checkout", "-q", "--detach", ref)
	if err := os.MkdirAll(filepath.Dir(filepath.Join(a.dir, file)), 0o755); err != nil {
		a.f.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, file), []byte(content), 0o644); err != nil {
		a.f.t.Fatal(err)
	}
	a.git("add", file)
	a.git("commit", "-q", "-m", "an unreviewed change")
	a.git("push", "-q", "-f", "origin", "HEAD:refs/heads/"+branch)
	return a.git("rev-parse", "HEAD")
}

// migrationID is the id the plan gives the example's move of orc8r.
func (f *testFleet) migrationID() string {
	return render.MigrationID("orc8r", "edge", "cloud", f.snap.EvaluatedAt)
}

// A branch squatted under the next step's predictable name is never opened, adopted or
// merged; the migration says what it found, and ends when it cannot go on.
func TestSquattedStepBranchIsRefused(t *testing.T) {
	f := newFleet(t)
	f.cfg.GitOps.AutoMerge = []string{"deploy", "route", "flip", "cleanup"}
	branch := step.BranchOf(f.migrationID(), step.Deploy)
	evil := newAttacker(f).commitOn("origin/main", branch, "clusters/cloud/evil.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n")
	r := f.reconciler()
	rep := mustPass(t, r)
	if prs := f.prs(); len(prs) != 0 {
		t.Fatalf("a pull request was opened on the squatted branch: %+v", prs)
	}
	if len(rep.Migrations) != 1 || !strings.Contains(rep.Migrations[0].WaitingFor, "which gitmig did not write") {
		t.Fatalf("status: %+v", rep.Migrations)
	}
	if got := f.git("rev-parse", branch); got != evil {
		t.Errorf("the squatted branch was moved to %s", got)
	}
	// Past stepTimeout the migration ends, and nothing of the branch reached main.
	f.clock.Add(f.cfg.Policy.StepTimeout.Duration + time.Minute)
	rep = mustPass(t, r)
	if rep.Migrations[0].Status != string(record.Aborted) {
		t.Fatalf("after stepTimeout: %+v", rep.Migrations[0])
	}
	if strings.Contains(f.git("ls-tree", "-r", "--name-only", "main"), "evil.yaml") {
		t.Error("the squatter's file reached main")
	}
	f.git("fsck", "--strict")
}

// A commit pushed onto an open step pull request is not merged by gitmig, even with
// autoMerge: the pull request and its commit status say what was found.
func TestForeignCommitOnAnOpenPullRequestIsNotMerged(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	mustPass(t, r) // step 1 is open, not auto-merged
	prs := f.prs()
	if len(prs) != 1 || prs[0].State != forge.StateOpen {
		t.Fatalf("pull requests: %+v", prs)
	}
	branch := prs[0].Head
	newAttacker(f).commitOn("origin/"+branch, branch, "clusters/cloud/evil.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n")
	f.cfg.GitOps.AutoMerge = []string{"deploy"}
	rep := mustPass(t, r)
	pr := f.prs()[0]
	if pr.State != forge.StateOpen {
		t.Fatalf("gitmig merged or closed the pull request with a foreign commit: %+v", pr)
	}
	if !strings.HasPrefix(pr.Body, foreignMarker) || !strings.Contains(pr.Body, "clusters/cloud/evil.yaml") {
		t.Errorf("the pull request does not say what was found:\n%s", pr.Body)
	}
	if !strings.Contains(rep.Migrations[0].WaitingFor, "clusters/cloud/evil.yaml") {
		t.Errorf("status: %q", rep.Migrations[0].WaitingFor)
	}
	var failed bool
	for _, a := range rep.Actions {
		failed = failed || (a.Kind == "status" && strings.HasPrefix(a.Detail, "failure on #1: commits gitmig did not write"))
	}
	if !failed {
		t.Errorf("no failing gitmig/gate status: %+v", rep.Actions)
	}
	// Past stepTimeout the pull request is closed and the migration, with nothing
	// merged, ends.
	f.clock.Add(f.cfg.Policy.StepTimeout.Duration + time.Minute)
	rep = mustPass(t, r)
	if rep.Migrations[0].Status != string(record.Aborted) || f.prs()[0].State != forge.StateClosed {
		t.Fatalf("after stepTimeout: %+v, %+v", rep.Migrations[0], f.prs()[0])
	}
	if strings.Contains(f.git("ls-tree", "-r", "--name-only", "main"), "evil.yaml") {
		t.Error("the foreign file reached main")
	}
}

// A step branch deleted under its open pull request is pushed again with gitmig's own
// commit, and the migration carries on.
func TestDeletedStepBranchIsRestored(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	mustPass(t, r)
	branch := f.prs()[0].Head
	f.git("branch", "-D", branch)
	rep := mustPass(t, r)
	if f.git("rev-parse", "--verify", "-q", branch) == "" {
		t.Fatalf("the branch is still gone: %+v", rep.Actions)
	}
	if n := f.mergeOpen(); n != 1 {
		t.Fatalf("merged %d pull requests, want the restored one", n)
	}
	f.drive(r)
	if prs := f.prs(); len(prs) != step.Count {
		t.Errorf("%d pull requests, want one per step", len(prs))
	}
}

// A base branch force-pushed back past a merged step ends the migration: its open
// pull request is closed and no step is opened twice.
func TestForcePushedBaseEndsTheMigration(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	mustPass(t, r)
	f.mergeOpen()  // step 1
	mustPass(t, r) // opens step 2

	// main is put back as it was before gitmig: the record left with the rewrite, and
	// the plan decides the same move, at the same minute, with the same id. Its pull
	// requests exist: it is not started again.
	f.git("update-ref", "refs/heads/main", f.seed)
	rep := mustPass(t, r)
	if len(rep.Migrations) != 0 || len(f.prs()) != 2 {
		t.Fatalf("after the rewrite: migrations %+v, %d pull requests", rep.Migrations, len(f.prs()))
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), "not starting "+f.migrationID()) {
		t.Errorf("notes: %q", rep.Notes)
	}

	// A rewrite that kept the record at step 1 but lost step 1's merge: gitmig sees
	// that the merge is gone, closes step 2 and ends the migration.
	newAttacker(f).commitOn("origin/main", "main", record.Path(f.migrationID()), recordAtStep1(t, f))
	rep = mustPass(t, r)
	if len(rep.Migrations) != 1 || rep.Migrations[0].Status != string(record.Aborted) || !strings.Contains(rep.Migrations[0].Message, "was rewritten") {
		t.Fatalf("after the rewrite that kept the record: %+v", rep.Migrations)
	}
	for _, pr := range f.prs() {
		if pr.State == forge.StateOpen {
			t.Errorf("#%d is still open", pr.Number)
		}
	}
	mustPass(t, r)
	if n := len(f.prs()); n != 2 {
		t.Errorf("%d pull requests after another pass, want the two of before", n)
	}
}

// recordAtStep1 is the migration's record saying, by its own status.step, that step 1 is merged.
func recordAtStep1(t *testing.T, f *testFleet) string {
	t.Helper()
	rec := record.New(f.migrationID(), record.Spec{Service: "orc8r", Namespace: "orc8r-ns", From: "edge", To: "cloud", DecidedAt: f.snap.EvaluatedAt, DecidedBy: "gitmig plan", Reason: "test"})
	rec.Status.Step = 1
	data, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The pass that finds the pull request a racing pass opened says so, instead of
// claiming it opened it.
func TestFoundPullRequestIsSaid(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	r.AfterAction = func(a report.Action) error {
		if a.Kind == report.ActionPushBranch {
			// Another pass opens the pull request in between.
			_, err := f.forge.Create(context.Background(), forge.NewPullRequest{Title: "racing pass", Head: a.Detail, Base: "main"})
			return err
		}
		return nil
	}
	rep := mustPass(t, r)
	var kinds []report.ActionKind
	for _, a := range rep.Actions {
		kinds = append(kinds, a.Kind)
	}
	if !slices.Contains(kinds, report.ActionFoundPR) || slices.Contains(kinds, report.ActionCreatePR) {
		t.Errorf("actions: %v, want found-pr and no create-pr", kinds)
	}
	if len(f.prs()) != 1 {
		t.Errorf("%d pull requests, want the racing pass's one", len(f.prs()))
	}
}

// A record gitmig.yaml does not know is shown by its file and holds no slot of
// policy.maxConcurrent (1 here): the planned migration still starts.
func TestInvalidRecordHoldsNoSlot(t *testing.T) {
	f := newFleet(t)
	bogus := record.New("ghost-edge-to-cloud-20260504-0800", record.Spec{Service: "ghost", From: "edge", To: "cloud"})
	data, err := bogus.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	newAttacker(f).commitOn("origin/main", "main", record.Path(bogus.ID()), string(data))
	rep := mustPass(t, f.reconciler())
	if len(rep.Invalid) != 1 || rep.Invalid[0].File != record.Path(bogus.ID()) || !strings.Contains(rep.Invalid[0].Problem, `spec.service "ghost"`) {
		t.Errorf("invalid records: %+v", rep.Invalid)
	}
	if len(rep.Migrations) != 1 || rep.Migrations[0].Service != "orc8r" || len(f.prs()) != 1 {
		t.Errorf("the bogus record held the only slot: %+v", rep.Migrations)
	}
}
