package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/report"
)

// scripted is a pass whose reports the test gives, one per pass, recording when each
// pass ran and why.
type scripted struct {
	mu      sync.Mutex
	reports []func() (*report.Report, error)
	results []Result
	// hold, when set, is waited on by every pass, so that the test can act during one.
	hold chan struct{}
	// started receives once per pass, as it starts.
	started chan struct{}
}

func (s *scripted) pass(ctx context.Context) (*report.Report, error) {
	if s.started != nil {
		s.started <- struct{}{}
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.results)
	if n >= len(s.reports) {
		return idle(), nil
	}
	return s.reports[n]()
}

func (s *scripted) after(r Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, r)
}

func (s *scripted) runs() []Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.results)
}

func idle() *report.Report {
	return &report.Report{Migrations: []report.MigrationStatus{{ID: "m", Awaits: report.AwaitsReview}}}
}

func pending(recheck time.Time) func() (*report.Report, error) {
	return func() (*report.Report, error) {
		return &report.Report{Migrations: []report.MigrationStatus{{ID: "m", Awaits: report.AwaitsGate, RecheckAt: recheck}}}, nil
	}
}

var epoch = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

// harness runs a Runner on a fake clock; asleep receives each time Run has set its
// timers and waits, the moment to move the clock or make a request.
type harness struct {
	clock  *clocktesting.FakeClock
	asleep chan struct{}
	done   chan error
	cancel context.CancelCauseFunc
}

func start(t *testing.T, r *Runner) *harness {
	t.Helper()
	h := &harness{clock: clocktesting.NewFakeClock(epoch), asleep: make(chan struct{}, 100), done: make(chan error, 1)}
	r.Clock = h.clock
	r.sleeping = func() { h.asleep <- struct{}{} }
	ctx, cancel := context.WithCancelCause(context.Background())
	h.cancel = cancel
	go func() { h.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel(nil)
		select {
		case <-h.done:
		case <-time.After(20 * time.Second):
			t.Error("Run did not return once cancelled")
		}
	})
	return h
}

// sleep waits, within a bound, until Run waits again.
func (h *harness) sleep(t *testing.T) {
	t.Helper()
	select {
	case <-h.asleep:
	case <-time.After(20 * time.Second):
		t.Fatal("Run never waited")
	}
}

// end waits, within a bound, for Run to return.
func (h *harness) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// Requests made during a pass collapse into one more pass, which says every reason;
// none is lost and none piles up.
func TestRequestsDuringAPassCollapseIntoOne(t *testing.T) {
	s := &scripted{hold: make(chan struct{}), started: make(chan struct{}, 10)}
	r := &Runner{Pass: s.pass, AfterPass: s.after}
	h := start(t, r)
	<-s.started
	for range 3 {
		r.Request(TriggerWebhook)
		r.Request(TriggerWatch)
	}
	s.hold <- struct{}{}
	<-s.started
	s.hold <- struct{}{}
	h.sleep(t) // before the first pass
	h.sleep(t) // before the second
	h.sleep(t) // after it: nothing is requested, no timer is set
	h.clock.Step(24 * time.Hour)
	r.Request(TriggerWatch)
	<-s.started
	s.hold <- struct{}{}
	h.sleep(t)
	runs := s.runs()
	want := [][]Trigger{{TriggerStart}, {TriggerWebhook, TriggerWatch}, {TriggerWatch}}
	if len(runs) != len(want) {
		t.Fatalf("%d passes, want %d: %+v", len(runs), len(want), runs)
	}
	for i, res := range runs {
		if !slices.Equal(res.Triggers, want[i]) {
			t.Errorf("pass %d: triggers %v, want %v", i+1, res.Triggers, want[i])
		}
	}
}

// Following ends at the first pass that leaves nothing pending; while a gate waits on
// the clock, the next pass runs when that wait ends, without a request.
func TestFollowRunsWhenTheClockSaysAndEndsWhenIdle(t *testing.T) {
	s := &scripted{}
	recheck := epoch.Add(15 * time.Second)
	s.reports = []func() (*report.Report, error){pending(recheck)}
	r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: true}
	h := start(t, r)
	h.sleep(t)
	h.sleep(t)
	h.clock.Step(15 * time.Second)
	if err := h.end(t); err != nil {
		t.Fatal(err)
	}
	runs := s.runs()
	if len(runs) != 2 || !slices.Equal(runs[1].Triggers, []Trigger{TriggerRecheck}) || !runs[1].Started.Equal(recheck) {
		t.Fatalf("passes %+v: want a second one for the recheck, at %s", runs, recheck)
	}
}

// Without a request or a wait on the clock, a pending gate waits for a request: the
// follower watches, it does not poll; the safety net's interval, when set, is the
// only timer.
func TestPendingWithoutAClockWaitsForARequestOrTheInterval(t *testing.T) {
	s := &scripted{}
	s.reports = []func() (*report.Report, error){pending(time.Time{}), pending(time.Time{}), pending(time.Time{})}
	r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: true}
	h := start(t, r)
	h.sleep(t)
	h.sleep(t)
	h.clock.Step(24 * time.Hour)
	r.Request(TriggerWatch)
	h.sleep(t)
	if runs := s.runs(); len(runs) != 2 || !slices.Equal(runs[1].Triggers, []Trigger{TriggerWatch}) {
		t.Errorf("passes: %+v, want a second one for the watch only", runs)
	}

	s2 := &scripted{}
	s2.reports = []func() (*report.Report, error){pending(time.Time{}), pending(time.Time{})}
	r2 := &Runner{Pass: s2.pass, AfterPass: s2.after, Interval: 10 * time.Minute}
	h2 := start(t, r2)
	h2.sleep(t)
	for range 2 {
		h2.sleep(t)
		h2.clock.Step(r2.Interval)
	}
	h2.sleep(t)
	runs := s2.runs()
	if len(runs) != 3 {
		t.Fatalf("%d passes: %+v", len(runs), runs)
	}
	for i, res := range runs[1:] {
		prev := runs[i]
		if !slices.Equal(res.Triggers, []Trigger{TriggerInterval}) || !res.Started.Equal(prev.Started.Add(prev.Duration+r2.Interval)) {
			t.Errorf("pass %d: %v at %s, the one before ended %s", i+2, res.Triggers, res.Started, prev.Started.Add(prev.Duration))
		}
	}
}

// A failed pass is retried with a growing backoff; a rate limit holds every pass,
// requested or not, until it resets.
func TestFailuresRetryAndRateLimitsHold(t *testing.T) {
	s := &scripted{}
	reset := epoch.Add(firstRetry + time.Hour)
	s.reports = []func() (*report.Report, error){
		func() (*report.Report, error) { return nil, errors.New("git push: connection refused") },
		func() (*report.Report, error) {
			return nil, &forge.RateLimitError{Reset: reset, Message: "API rate limit exceeded"}
		},
	}
	r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: true}
	h := start(t, r)
	h.sleep(t)
	h.sleep(t)
	h.clock.Step(firstRetry)
	h.sleep(t) // after the rate limit
	r.Request(TriggerWebhook)
	h.sleep(t) // the webhook's pass waits for the reset
	h.clock.Step(time.Hour)
	if err := h.end(t); err != nil {
		t.Fatal(err)
	}
	runs := s.runs()
	if len(runs) != 3 {
		t.Fatalf("%d passes: %+v", len(runs), runs)
	}
	if !slices.Equal(runs[1].Triggers, []Trigger{TriggerRetry}) || !runs[1].Started.Equal(epoch.Add(firstRetry)) {
		t.Errorf("retry: %v at %s", runs[1].Triggers, runs[1].Started)
	}
	if !runs[2].Started.Equal(reset) || !slices.Equal(runs[2].Triggers, []Trigger{TriggerWebhook}) {
		t.Errorf("the pass after the rate limit ran at %s for %v, want at the reset %s", runs[2].Started, runs[2].Triggers, reset)
	}
}

// A follow ends at Until without starting another pass, and fails only when its last
// pass did.
func TestFollowEndsAtItsDeadline(t *testing.T) {
	for _, last := range []error{nil, errors.New("git push: connection refused")} {
		s := &scripted{reports: []func() (*report.Report, error){func() (*report.Report, error) {
			if last != nil {
				return nil, last
			}
			return pending(time.Time{})()
		}}}
		r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: true, Until: epoch.Add(time.Second)}
		h := start(t, r)
		h.sleep(t)
		h.sleep(t)
		h.clock.Step(time.Second)
		if err := h.end(t); !errors.Is(err, last) || (last == nil && err != nil) {
			t.Errorf("follow ended after a pass that returned %v: Run returned %v", last, err)
		}
		if runs := s.runs(); len(runs) != 1 {
			t.Errorf("%d passes, want 1", len(runs))
		}
	}
}

// Cancelled, Run says why.
func TestCancelEndsTheRun(t *testing.T) {
	for _, follow := range []bool{false, true} {
		s := &scripted{reports: []func() (*report.Report, error){pending(time.Time{})}}
		r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: follow}
		h := start(t, r)
		h.sleep(t)
		h.sleep(t)
		h.cancel(fmt.Errorf("interrupted by SIGTERM"))
		if err := h.end(t); err == nil || err.Error() != "interrupted by SIGTERM" {
			t.Errorf("follow %v: Run returned %v", follow, err)
		}
	}
}

// A pass that leaves work for the next, such as a step it merged itself, is followed
// by another at once.
func TestAPassThatLeavesWorkIsFollowedAtOnce(t *testing.T) {
	s := &scripted{reports: []func() (*report.Report, error){func() (*report.Report, error) {
		return &report.Report{Migrations: []report.MigrationStatus{{ID: "m", Awaits: report.AwaitsPass}}}, nil
	}}}
	r := &Runner{Pass: s.pass, AfterPass: s.after, UntilIdle: true}
	h := start(t, r)
	if err := h.end(t); err != nil {
		t.Fatal(err)
	}
	if runs := s.runs(); len(runs) != 2 || !slices.Equal(runs[1].Triggers, []Trigger{TriggerNext}) || !runs[1].Started.Equal(epoch) {
		t.Errorf("passes %+v, want a second one at once", runs)
	}
}
