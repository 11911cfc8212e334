// Package runner runs reconcile passes when something they read may have changed: a
// webhook, a change the watcher reports, the end of a wait on the clock (the drain, a
// step's timeout), or a timer kept as a safety net. Requests that arrive during a
// pass collapse into one more pass after it, so none is lost and none piles up; a
// pass is level-triggered and reads everything anew, so one is enough.
package runner

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/report"
)

// Trigger says why a pass runs.
type Trigger string

// Triggers.
const (
	// TriggerStart is the first pass.
	TriggerStart Trigger = "start"
	// TriggerWebhook: GitHub said a pull request was merged or closed, or a branch was
	// pushed.
	TriggerWebhook Trigger = "webhook"
	// TriggerWatch: an engine object or a workload a gate reads changed.
	TriggerWatch Trigger = "watch"
	// TriggerRecheck: a wait on the clock ended, such as the drain.
	TriggerRecheck Trigger = "recheck"
	// TriggerInterval: the safety net's timer.
	TriggerInterval Trigger = "interval"
	// TriggerRetry: the pass before failed.
	TriggerRetry Trigger = "retry"
	// TriggerNext: the pass before left work for the next, such as checking the gate
	// of a step it merged itself.
	TriggerNext Trigger = "next"
)

// Pass is one reconcile pass; its own deadline is the caller's.
type Pass func(ctx context.Context) (*report.Report, error)

// Result is what one pass did, for logs and metrics.
type Result struct {
	// Triggers are why it ran, each once, in the order first requested.
	Triggers []Trigger
	Started  time.Time
	Duration time.Duration
	Report   *report.Report
	Err      error
}

// Runner decides when passes run. Its zero value is not usable: set Pass.
type Runner struct {
	Pass Pass
	// Interval is the safety net: a pass runs at least this long after the last one,
	// whatever else happens; zero for none.
	Interval time.Duration
	// UntilIdle makes Run return once a pass succeeds with nothing pending: no
	// migration moves on without someone's help (reconcile --follow).
	UntilIdle bool
	// Until, when set, is when Run stops starting passes and returns the last pass's
	// error: the end of a follow. A pass under way then finishes first, so that a
	// follow's deadline never cuts a pass between a push and its pull request.
	Until time.Time
	// AfterPass is called after every pass.
	AfterPass func(Result)
	// Clock tells the time and sets the timers; the real clock when nil.
	Clock clock.WithTicker

	mu        sync.Mutex
	requested []Trigger
	wake      chan struct{}
	// sleeping, when set, is called each time Run starts waiting: a test's cue that
	// the pass before has ended and every timer is set.
	sleeping func()
}

// Retry backoff after a failed pass: doubling from the first to the last, and never
// beyond Interval when one is set.
const (
	firstRetry = 2 * time.Second
	maxRetry   = 5 * time.Minute
)

// Request asks for a pass as soon as the one under way, if any, ends. It never
// blocks; requests made before Run starts count.
func (r *Runner) Request(t Trigger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.requested, t) {
		r.requested = append(r.requested, t)
	}
	select {
	case r.wakeLocked() <- struct{}{}:
	default:
	}
}

func (r *Runner) wakeLocked() chan struct{} {
	if r.wake == nil {
		r.wake = make(chan struct{}, 1)
	}
	return r.wake
}

func (r *Runner) take() []Trigger {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.requested
	r.requested = nil
	return t
}

func (r *Runner) clock() clock.WithTicker {
	if r.Clock == nil {
		return clock.RealClock{}
	}
	return r.Clock
}

func (r *Runner) now() time.Time { return r.clock().Now() }

// Run runs a first pass at once, then one whenever requested or a timer says so,
// until ctx ends (it then returns context.Cause(ctx)), or, with UntilIdle, until a
// pass leaves nothing pending (it then returns nil), or Until comes (it then returns
// the error of the last pass, if it failed, else nil: ending a follow at its deadline
// is no failure).
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	wake := r.wakeLocked()
	r.mu.Unlock()
	r.Request(TriggerStart)
	var (
		last      Result
		failures  int
		notBefore time.Time // a rate limit's reset: no pass before it
	)
	for {
		next, why := r.nextTimer(last, failures)
		if !notBefore.IsZero() && notBefore.After(next) {
			next, why = notBefore, TriggerRetry
		}
		if !r.Until.IsZero() && (next.IsZero() || !next.Before(r.Until)) {
			next, why = r.Until, triggerUntil
		}
		over, err := r.sleep(ctx, wake, next, notBefore, why)
		if err != nil {
			return err
		}
		if over || (!r.Until.IsZero() && !r.now().Before(r.Until)) {
			return last.Err
		}
		res := Result{Triggers: r.take(), Started: r.now()}
		res.Report, res.Err = r.Pass(ctx)
		res.Duration = r.now().Sub(res.Started)
		if r.AfterPass != nil {
			r.AfterPass(res)
		}
		last, notBefore = res, time.Time{}
		if res.Err != nil {
			failures++
			var limited *forge.RateLimitError
			if errors.As(res.Err, &limited) {
				notBefore = limited.Reset
			}
			continue
		}
		failures = 0
		if res.Report == nil {
			continue
		}
		if r.UntilIdle && len(res.Report.Pending()) == 0 {
			return nil
		}
		if slices.ContainsFunc(res.Report.Migrations, func(m report.MigrationStatus) bool { return m.Awaits == report.AwaitsPass }) {
			r.Request(TriggerNext)
		}
	}
}

// nextTimer is when the next pass runs if nothing requests one, and why: a retry
// after a failure, the end of a wait on the clock, or the safety net. Zero: never.
func (r *Runner) nextTimer(last Result, failures int) (time.Time, Trigger) {
	var next time.Time
	var why Trigger
	consider := func(at time.Time, t Trigger) {
		if !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next, why = at, t
		}
	}
	if last.Started.IsZero() {
		return next, why
	}
	end := last.Started.Add(last.Duration)
	if r.Interval > 0 {
		consider(end.Add(r.Interval), TriggerInterval)
	}
	if last.Err != nil {
		backoff := firstRetry << min(failures-1, 10)
		backoff = min(backoff, maxRetry)
		if r.Interval > 0 {
			backoff = min(backoff, r.Interval)
		}
		consider(end.Add(backoff), TriggerRetry)
	}
	if last.Report != nil {
		consider(last.Report.RecheckAt(end), TriggerRecheck)
	}
	return next, why
}

// triggerUntil is the timer of Until: it ends Run rather than starting a pass.
const triggerUntil Trigger = "until"

// sleep waits for a request or the timer, whichever comes first; a request before
// notBefore waits for it. It reports whether the timer was Until's.
func (r *Runner) sleep(ctx context.Context, wake <-chan struct{}, next, notBefore time.Time, why Trigger) (bool, error) {
	var timer <-chan time.Time
	if !next.IsZero() {
		t := r.clock().NewTimer(max(next.Sub(r.now()), 0))
		defer t.Stop()
		timer = t.C()
	}
	if r.sleeping != nil {
		r.sleeping()
	}
	select {
	case <-ctx.Done():
		return false, context.Cause(ctx)
	case <-wake:
		if wait := notBefore.Sub(r.now()); wait > 0 {
			t := r.clock().NewTimer(wait)
			defer t.Stop()
			if r.sleeping != nil {
				r.sleeping()
			}
			select {
			case <-ctx.Done():
				return false, context.Cause(ctx)
			case <-t.C():
			}
		}
	case <-timer:
		if why == triggerUntil {
			return true, nil
		}
		r.Request(why)
		// The request just made filled the wake channel; empty it, since this wait
		// is over.
		select {
		case <-wake:
		default:
		}
	}
	return false, nil
}
