// Package gate decides whether a merged migration step is applied and healthy, so the
// reconciler may open the next one. A gate answers Pass, Wait (saying what for) or Fail
// (saying why).
package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/step"
)

// Verdict is a gate's answer.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "Pass"
	Wait Verdict = "Wait"
	Fail Verdict = "Fail"
)

// Result is a verdict and what it rests on.
type Result struct {
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
	// AppliedAt is when the engine finished applying the step, when it says; the drain
	// counts from it.
	AppliedAt time.Time `json:"appliedAt,omitzero"`
	// RecheckAt, on a Wait, is when the answer changes by the clock alone (the end of
	// the drain), so that a caller need not ask before then, nor wait for an event.
	RecheckAt time.Time `json:"recheckAt,omitzero"`
}

// Passed, Waiting and Failed build results.
func Passed(format string, args ...any) Result {
	return Result{Verdict: Pass, Reason: fmt.Sprintf(format, args...)}
}

// Waiting builds a Wait result saying what for.
func Waiting(format string, args ...any) Result {
	return Result{Verdict: Wait, Reason: fmt.Sprintf(format, args...)}
}

// Failed builds a Fail result saying why.
func Failed(format string, args ...any) Result {
	return Result{Verdict: Fail, Reason: fmt.Sprintf(format, args...)}
}

// Request describes the merged step to check.
type Request struct {
	MigrationID string
	Service     string
	Namespace   string
	From        string
	To          string
	// Step is the merged step; Cluster is the cluster whose overlay it changed.
	Step    step.Step
	Cluster string
	// MergeCommit is the commit the step's merge made on the base branch; Branch is the
	// base branch.
	MergeCommit string
	Branch      string
	MergedAt    time.Time
	Now         time.Time
	// Descends reports whether a commit is MergeCommit or one of its descendants on
	// the base branch, fetching it if it is newer than what the caller has.
	Descends func(ctx context.Context, sha string) (bool, error)
	// ToDNSName is the destination's ingress name, which the flipped Service names.
	ToDNSName string
	// PodSelector selects the service's pods, from its base Deployment.
	PodSelector map[string]string
	// Undo is set when the merge rolled Step back: only "applied" matters then.
	Undo bool
	// ReadOnly asks the gates to change nothing, not even to ask an engine to look
	// now: gitmig status and dry runs only read.
	ReadOnly bool
}

// Gate checks a merged step.
type Gate interface {
	Check(ctx context.Context, req Request) (Result, error)
}

// Merged is the gate for `gitops.engine: none`: nothing applies the overlays that
// gitmig can observe, so a merged step counts as applied.
type Merged struct{}

// Check passes every merged step.
func (Merged) Check(_ context.Context, req Request) (Result, error) {
	return Passed("step %d merged as %s; engine none applies on merge", int(req.Step), short(req.MergeCommit)), nil
}

// Drain holds the flip (step 3) until Duration has passed since it was applied, so
// that clients holding the old address finish before cleanup removes the pods. It
// counts from the engine's AppliedAt when the inner gate reports one, else from the
// merge, the earliest moment the flip can have been applied.
type Drain struct {
	Inner    Gate
	Duration time.Duration
	// Idle, when set, also waits for the source's request rate to fall to idle.
	Idle *Idle
}

// Check asks the inner gate, then holds step 3 for the drain.
func (d Drain) Check(ctx context.Context, req Request) (Result, error) {
	res, err := d.Inner.Check(ctx, req)
	if err != nil || res.Verdict != Pass || req.Step != step.Flip || req.Undo {
		return res, err
	}
	since, what := req.MergedAt, "merged"
	if !res.AppliedAt.IsZero() {
		since, what = res.AppliedAt, "applied"
	}
	elapsed := req.Now.Sub(since)
	if elapsed < d.Duration {
		wait := Waiting("draining %s: %s of %s since the flip %s at %s (%s)",
			req.From, max(elapsed, 0).Truncate(time.Second), d.Duration, what, since.UTC().Format(time.RFC3339), res.Reason)
		wait.RecheckAt = since.Add(d.Duration)
		return wait, nil
	}
	res.Reason = fmt.Sprintf("%s; drained %s", res.Reason, d.Duration)
	if d.Idle != nil {
		idle := d.Idle.check(ctx, req)
		if idle.Verdict != Pass {
			return idle, nil
		}
		res.Reason += "; " + idle.Reason
	}
	return res, nil
}

// All passes when every gate passes; otherwise it answers with the first Fail, or
// else the first Wait, so the most serious answer is the one shown.
type All []Gate

// Check asks every gate in order.
func (all All) Check(ctx context.Context, req Request) (Result, error) {
	var reasons []string
	var waiting *Result
	var applied time.Time
	for _, g := range all {
		res, err := g.Check(ctx, req)
		if err != nil {
			return Result{}, err
		}
		switch res.Verdict {
		case Fail:
			return res, nil
		case Wait:
			if waiting == nil {
				waiting = &res
			}
		}
		if res.AppliedAt.After(applied) {
			applied = res.AppliedAt
		}
		reasons = append(reasons, res.Reason)
	}
	if waiting != nil {
		return *waiting, nil
	}
	return Result{Verdict: Pass, Reason: strings.Join(reasons, "; "), AppliedAt: applied}, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
