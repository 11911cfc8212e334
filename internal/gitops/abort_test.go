package gitops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/report"
)

// toStep runs passes and merges until steps 1..merged are merged and the next step's
// pull request is open, and returns the migration's id. The clock moves past
// policy.routeSettle after each merge, so that the route's hold is over.
func (f *testFleet) toStep(r *Reconciler, merged int) string {
	f.t.Helper()
	for range merged {
		mustPass(f.t, r)
		f.mergeOpen()
		f.clock.Add(f.cfg.Policy.RouteSettle.Duration + time.Second)
	}
	rep := mustPass(f.t, r)
	if m := rep.Migrations[0]; m.Step != merged {
		f.t.Fatalf("driving to step %d: %+v", merged, m)
	}
	return rep.Migrations[0].ID
}

// comments are the comments on pull request n of the local forge.
func (f *testFleet) comments(n int) string {
	f.t.Helper()
	db, err := f.forge.Read(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var bodies []string
	for _, p := range db.Pulls {
		if p.Number == n {
			for _, c := range p.Comments {
				bodies = append(bodies, c.Body)
			}
		}
	}
	return strings.Join(bodies, "\n")
}

func TestAbortRollsBackTheMergedStepsByPullRequest(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	id := f.toStep(r, 2)
	why := "aborted by hand by alice (gitmig abort): p99 latency doubled"
	rep, err := r.Abort(context.Background(), id, "alice", "p99 latency doubled")
	if err != nil {
		t.Fatal(err)
	}
	prs := f.prs()
	if len(prs) != 4 || prs[2].State != forge.StateClosed || prs[3].State != forge.StateOpen || undoTitles(prs) != "[undo 2/4 route]" {
		t.Fatalf("after the abort: %+v", prs)
	}
	if c := f.comments(prs[2].Number); !strings.Contains(c, why) {
		t.Errorf("the closed step pull request does not say why: %q", c)
	}
	if !strings.Contains(prs[3].Body, "Why: "+why) || !strings.Contains(prs[3].Body, "Closing this without merging ends the migration Aborted with steps 1-2 still merged.") {
		t.Errorf("the rollback pull request does not say why:\n%s", prs[3].Body)
	}
	if m := rep.Migrations[0]; m.Status != report.StatusRollingBack || !strings.Contains(m.WaitingFor, fmt.Sprintf("rollback pull request #%d (undo step 2)", prs[3].Number)) {
		t.Errorf("status: %+v", m)
	}
	rec := f.records()[0]
	if rb := rec.Status.Rollback; rb == nil || rb.Reason != why || rb.FromStep != 2 || rec.Status.Phase != record.InProgress {
		t.Fatalf("record after the abort: %+v", rec.Status)
	}
	if msg := f.git("log", "-1", "--format=%B", "main"); !strings.HasPrefix(msg, "gitmig: abort "+id+"\n\n"+why) {
		t.Errorf("the abort's commit message: %q", msg)
	}

	// Aborting again, or a pass, carries on without a second pull request or record.
	head := f.git("rev-parse", "main")
	rep, err = r.Abort(context.Background(), id, "bob", "again")
	if err != nil || len(rep.Actions) != 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "already rolling back") {
		t.Fatalf("second abort: %v, actions %+v, notes %q", err, rep.Actions, rep.Notes)
	}
	if rep := mustPass(t, r); len(rep.Actions) != 0 || len(f.prs()) != 4 || f.git("rev-parse", "main") != head {
		t.Fatalf("pass after the abort: %+v", rep.Actions)
	}

	rep = f.rollBackToTheEnd(r)
	if got := undoTitles(f.prs()); got != "[undo 2/4 route] [undo 1/4 deploy]" {
		t.Errorf("rollback pull requests: %q", got)
	}
	rec = f.records()[0]
	if rec.Status.Phase != record.RolledBack || rec.Status.Message != "rolled back: "+why || rep.Migrations[0].Status != string(record.RolledBack) {
		t.Fatalf("record at the end: %+v", rec.Status)
	}
	assertBuildsEqualExample(t, f)
	if _, err := r.Abort(context.Background(), id, "alice", ""); err == nil || !strings.Contains(err.Error(), "already ended RolledBack") {
		t.Errorf("aborting an ended migration: %v", err)
	}
	f.git("fsck", "--strict")
}

func TestAbortBeforeAnyMergeEndsAborted(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	id := f.toStep(r, 0)
	rep, err := r.Abort(context.Background(), id, "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	why := "aborted by hand by alice (gitmig abort)"
	prs := f.prs()
	if len(prs) != 1 || prs[0].State != forge.StateClosed {
		t.Fatalf("pull requests: %+v", prs)
	}
	rec := f.records()[0]
	if rec.Status.Phase != record.Aborted || rec.Status.Message != why || rep.Migrations[0].Status != string(record.Aborted) {
		t.Fatalf("record: %+v; status %+v", rec.Status, rep.Migrations[0])
	}
	// The pair cools down: the same overloaded metrics start nothing.
	if rep := mustPass(t, r); len(rep.Actions) != 0 || len(f.prs()) != 1 {
		t.Errorf("pass after the abort: %+v", rep.Actions)
	}
	if _, err := r.Abort(context.Background(), id, "alice", ""); err == nil || !strings.Contains(err.Error(), "already ended Aborted") {
		t.Errorf("second abort: %v", err)
	}
	f.git("fsck", "--strict")
}

func TestAbortRefusesAnUnknownID(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	id := f.toStep(r, 0)
	head := f.git("rev-parse", "main")
	_, err := r.Abort(context.Background(), "orc8r-edge-to-fog-20260504-0900", "alice", "")
	if err == nil || !strings.Contains(err.Error(), `no migration "orc8r-edge-to-fog-20260504-0900"`) || !strings.Contains(err.Error(), "in progress: "+id) {
		t.Fatalf("unknown id: %v", err)
	}
	if f.git("rev-parse", "main") != head || f.prs()[0].State != forge.StateOpen {
		t.Error("a refused abort changed the remote or the forge")
	}
}

// An abort killed after any of its actions is carried on by the next abort or pass,
// to the same end as an uninterrupted one.
func TestAbortConvergesAfterACrashAtEveryAction(t *testing.T) {
	run := func(t *testing.T, crashAt int) (string, []report.ActionKind) {
		f := newFleet(t)
		r := f.reconciler()
		id := f.toStep(r, 2)
		var kinds []report.ActionKind
		r.AfterAction = func(a report.Action) error {
			kinds = append(kinds, a.Kind)
			if len(kinds) == crashAt {
				return errCrash
			}
			return nil
		}
		_, err := r.Abort(context.Background(), id, "alice", "crash test")
		r.AfterAction = nil
		if crashAt > 0 {
			if err == nil {
				t.Fatalf("the abort took fewer than %d actions", crashAt)
			}
			// Every other crash is followed by the abort again, the others by a pass.
			if crashAt%2 == 0 {
				_, err = r.Abort(context.Background(), id, "alice", "crash test")
			} else {
				_, err = r.Pass(context.Background())
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		f.rollBackToTheEnd(r)
		f.git("fsck", "--strict")
		rec := f.records()[0]
		return fmt.Sprintf("%s\n%s: %s", f.endState(), rec.Status.Phase, rec.Status.Message), kinds
	}
	want, kinds := run(t, 0)
	if !strings.Contains(want, "RolledBack: rolled back: aborted by hand by alice (gitmig abort): crash test") {
		t.Fatalf("uninterrupted abort ends as\n%s", want)
	}
	for crashAt := 1; crashAt <= len(kinds); crashAt++ {
		t.Run(fmt.Sprintf("after action %d %s", crashAt, kinds[crashAt-1]), func(t *testing.T) {
			if got, _ := run(t, crashAt); got != want {
				t.Errorf("end state after a crash differs:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The rollback an abort records keeps when the abort was made and the step it started
// from, however long the rollback takes.
func TestAbortRecordsWhen(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	id := f.toStep(r, 1)
	at := f.clock.Now().UTC()
	if _, err := r.Abort(context.Background(), id, "alice", ""); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	f.rollBackToTheEnd(r)
	rec := f.records()[0]
	if rb := rec.Status.Rollback; rb == nil || !rb.Since.Equal(at) || rb.FromStep != 1 {
		t.Errorf("rollback: %+v, want since %s from step 1", rb, at)
	}
}

// The gate of a migration whose next step cannot be written says "or run gitmig
// abort": doing so rolls it back at once, without waiting for policy.stepTimeout.
func TestAbortAMigrationWhoseNextStepCannotBeWritten(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	mustPass(t, r)
	f.mergeOpen()
	// cloud's Traefik loses the entry point of orc8r's api port: step 2 has nowhere to
	// route it, and with r.Config set the pass renders with the edited gitmig.yaml.
	edited := f.git("show", "main:gitmig.yaml")
	i := strings.Index(edited, "  - name: cloud\n")
	j := i + strings.Index(edited[i:], "api: 8080")
	edited = edited[:j] + "admin: 9444" + edited[j+len("api: 8080"):]
	newAttacker(f).commitFiles("origin/main", "main", "cloud: api moves to another port", map[string]string{"gitmig.yaml": edited})
	// The pass, and the abort, follow main's gitmig.yaml, and say the work tree's differs.
	r.Config, r.WorkTree = nil, f.cfg
	rep := mustPass(t, r)
	id := rep.Migrations[0].ID
	if g := rep.Migrations[0].Gate; g == nil || !strings.Contains(g.Reason, "or run gitmig abort "+id) {
		t.Fatalf("gate: %+v", g)
	}

	rep, err := r.Abort(context.Background(), id, "alice", "cloud's api entry point is gone")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "gitmig.yaml here differs from main's") }) {
		t.Errorf("abort's notes: %q", rep.Notes)
	}
	prs := f.prs()
	if len(prs) != 2 || !strings.Contains(prs[1].Head, "/undo-1-deploy") || prs[1].State != forge.StateOpen {
		t.Fatalf("after the abort, want step 1's rollback open: %+v", prs)
	}
	f.mergeOpen()
	f.clock.Add(time.Minute)
	rep = mustPass(t, r)
	rec := f.records()[0]
	if rec.Status.Phase != record.RolledBack || !strings.Contains(rec.Status.Message, "aborted by hand by alice (gitmig abort): cloud's api entry point is gone") {
		t.Fatalf("record: %+v", rec.Status)
	}
	if rep.Migrations[0].Status != string(record.RolledBack) {
		t.Errorf("status: %+v", rep.Migrations[0])
	}
	f.git("fsck", "--strict")
}

// The rollback pull request's description says what closing it leaves, and it does.
func TestClosingARollbackEndsAbortedWithTheStepsMerged(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	id := f.toStep(r, 2)
	if _, err := r.Abort(context.Background(), id, "alice", ""); err != nil {
		t.Fatal(err)
	}
	undo := f.prs()[3]
	if err := f.forge.Close(context.Background(), undo.Number, "keep it in cloud after all"); err != nil {
		t.Fatal(err)
	}
	rep := mustPass(t, r)
	rec := f.records()[0]
	want := fmt.Sprintf("rollback pull request #%d (undo step 2) was closed without merge; steps 1-2 stay merged", undo.Number)
	if rec.Status.Phase != record.Aborted || rec.Status.Message != want || rep.Migrations[0].Status != string(record.Aborted) {
		t.Fatalf("record %+v, status %+v; want Aborted saying %q", rec.Status, rep.Migrations[0], want)
	}
	if files := f.git("ls-tree", "-r", "--name-only", "main", "migrations/"+id+"/"); files != "migrations/"+id+"/1-deploy.yaml\nmigrations/"+id+"/2-route.yaml" {
		t.Errorf("step files on main: %q", files)
	}
}

// gitmig abort on the metro fleet, whose destination overlay is at overlays/metro/west,
// with step 4 open: it is closed, the flip, the route and the deploy are undone by pull
// request, newest first, and every overlay builds as before.
func TestAbortOnAFleetWithOverlaysElsewhere(t *testing.T) {
	f := newMetroFleet(t)
	r := f.metroReconciler()
	id := f.toStep(r, 3)
	// The drain is over: step 4's pull request opens, and the abort closes it.
	f.clock.Add(f.cfg.Policy.Drain.Duration + time.Minute)
	mustPass(t, r)
	if _, err := r.Abort(context.Background(), id, "alice", "metro-west's uplink is flapping"); err != nil {
		t.Fatal(err)
	}
	rep := f.rollBackToTheEnd(r)
	if got := undoTitles(f.prs()); got != "[undo 3/4 flip] [undo 2/4 route] [undo 1/4 deploy]" {
		t.Errorf("rollback pull requests: %q", got)
	}
	if open := f.prs()[3]; !strings.HasSuffix(open.Head, "/4-cleanup") || open.State != forge.StateClosed {
		t.Errorf("step 4's pull request: %+v, want closed", open)
	}
	rec := f.records()[0]
	if rec.Status.Phase != record.RolledBack || rep.Migrations[0].Status != string(record.RolledBack) || !strings.Contains(rec.Status.Message, "metro-west's uplink is flapping") {
		t.Fatalf("record %+v, status %+v", rec.Status, rep.Migrations[0])
	}
	assertBuildsEqualExample(t, f)
	f.git("fsck", "--strict")
}
