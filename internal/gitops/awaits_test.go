package gitops

import (
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
)

// A pass says who acts next, so that a caller following passes knows when another
// pass can help: a review stops it, a gate or an auto-merged step does not, and a
// wait on the clock says when it ends.
func TestPassSaysWhoActsNext(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	expect := func(rep *report.Report, awaits report.Awaits, recheck time.Time) {
		t.Helper()
		m := rep.Migrations[0]
		if m.Awaits != awaits || !m.RecheckAt.Equal(recheck) || m.Pending() != (awaits != report.AwaitsReview && awaits != "") {
			t.Fatalf("awaits %q recheck %s pending %v (%s), want %q recheck %s", m.Awaits, m.RecheckAt, m.Pending(), m.WaitingFor, awaits, recheck)
		}
	}
	expect(mustPass(t, r), report.AwaitsReview, time.Time{})
	f.mergeOpen()
	expect(mustPass(t, r), report.AwaitsReview, time.Time{}) // step 2 opened
	f.mergeOpen()
	// The route settles: the gate waits for the clock, and says until when.
	routed := f.prs()[1].MergedAt
	expect(mustPass(t, r), report.AwaitsGate, routed.Add(f.cfg.Policy.RouteSettle.Duration))
	f.clock.Add(f.cfg.Policy.RouteSettle.Duration)
	expect(mustPass(t, r), report.AwaitsReview, time.Time{}) // step 3 opened
	f.mergeOpen()
	merged := f.prs()[2].MergedAt
	// The flip drains: the gate waits for the clock, and says until when; the step
	// timeout, later, does not move that.
	rep := mustPass(t, r)
	expect(rep, report.AwaitsGate, merged.Add(f.cfg.Policy.Drain.Duration))
	if got := rep.RecheckAt(f.clock.Now()); !got.Equal(merged.Add(f.cfg.Policy.Drain.Duration)) {
		t.Errorf("report recheck %s", got)
	}
	if len(rep.Pending()) != 1 {
		t.Errorf("pending: %+v", rep.Pending())
	}
	// With a gate that waits on something that is not the clock, the step timeout is
	// the time to look again.
	r.Gate = stuckAt(step.Flip, gate.Wait)
	expect(mustPass(t, r), report.AwaitsGate, merged.Add(f.cfg.Policy.StepTimeout.Duration))
	r.Gate = gate.Hold{Inner: gate.Merged{}, Settle: f.cfg.Policy.RouteSettle.Duration, Drain: f.cfg.Policy.Drain.Duration}
	f.clock.Add(f.cfg.Policy.Drain.Duration)
	expect(mustPass(t, r), report.AwaitsReview, time.Time{}) // step 4 opened
	// An auto-merged step is merged by this pass; the next one checks its gate.
	f.cfg.GitOps.AutoMerge = []string{step.Cleanup.Name()}
	expect(mustPass(t, r), report.AwaitsPass, time.Time{})
	rep = mustPass(t, r)
	expect(rep, "", time.Time{}) // Completed
	if len(rep.Pending()) != 0 || !rep.RecheckAt(f.clock.Now()).IsZero() {
		t.Errorf("a completed migration is pending: %+v", rep.Migrations)
	}
}
