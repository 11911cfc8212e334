// Package gate decides whether a merged migration step is applied and healthy, so the
// reconciler may open the next one. A gate answers Pass, Wait (saying what for) or Fail
// (saying why).
package gate

import (
	"context"
	"fmt"
	"time"
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
}

// Passed, Waiting and Failed build results.
func Passed(format string, args ...any) Result { return Result{Pass, fmt.Sprintf(format, args...)} }

// Waiting builds a Wait result saying what for.
func Waiting(format string, args ...any) Result { return Result{Wait, fmt.Sprintf(format, args...)} }

// Failed builds a Fail result saying why.
func Failed(format string, args ...any) Result { return Result{Fail, fmt.Sprintf(format, args...)} }

// Request describes the merged step to check.
type Request struct {
	MigrationID string
	Service     string
	Namespace   string
	From        string
	To          string
	// Step is the merged step, 1 to 4; Cluster is the cluster whose overlay it changed.
	Step    int
	Cluster string
	// MergeCommit is the commit the step's merge made on the base branch; Branch is the
	// base branch.
	MergeCommit string
	Branch      string
	MergedAt    time.Time
	Now         time.Time
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
	return Passed("step %d merged as %s; engine none applies on merge", req.Step, short(req.MergeCommit)), nil
}

// Drain holds the flip (step 3) until Duration has passed since it was applied, so
// that clients holding the old address finish before cleanup removes the pods. The
// inner gate decides "applied"; Drain counts from the merge, the earliest moment the
// flip can have been applied, so it never shortens the drain on a slow engine.
type Drain struct {
	Inner    Gate
	Duration time.Duration
}

// Check asks the inner gate, then holds step 3 for the drain.
func (d Drain) Check(ctx context.Context, req Request) (Result, error) {
	res, err := d.Inner.Check(ctx, req)
	if err != nil || res.Verdict != Pass || req.Step != 3 {
		return res, err
	}
	elapsed := req.Now.Sub(req.MergedAt)
	if elapsed < d.Duration {
		return Waiting("draining %s: %s of %s since the flip merged at %s (%s)",
			req.From, elapsed.Truncate(time.Second), d.Duration, req.MergedAt.UTC().Format(time.RFC3339), res.Reason), nil
	}
	return Passed("%s; drained %s", res.Reason, d.Duration), nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
