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
	// Routes are the Traefik routes to the service in the destination's build, those
	// step 2 wrote: one per port, of the kind that carries what the port speaks.
	Routes []Route
	// ClientOnly is set for a workload with no Service: steps 2 and 3 route and flip
	// nothing, so only "applied" matters for them.
	ClientOnly bool
	// Undo is set when the merge rolled Step back: only "applied" matters then.
	Undo bool
	// ReadOnly asks the gates to change nothing, not even to ask an engine to look
	// now: gitmig status and dry runs only read.
	ReadOnly bool
}

// Route names a Traefik route: its kind (IngressRoute, IngressRouteTCP or
// IngressRouteUDP), namespace and name.
type Route struct {
	Kind, Namespace, Name string
}

func (r Route) String() string { return r.Kind + " " + r.Namespace + "/" + r.Name }

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

// Hold keeps two steps waiting a while after they are applied. The route (step 2)
// waits Settle, so that the ingress controller has loaded the new routes before the
// flip sends clients to them: Traefik applies provider changes in batches
// (providersThrottleDuration, 2s by default) and answers 404 for a route it has not
// loaded. The flip (step 3) waits Drain, so that clients holding the old address
// finish before cleanup removes the pods. Both count from the engine's AppliedAt when
// the inner gate reports one, else from the merge, the earliest moment the step can
// have been applied.
type Hold struct {
	Inner  Gate
	Settle time.Duration
	Drain  time.Duration
	// Idle, when set, also holds the flip until the source's requests fall to idle.
	Idle *Idle
}

// Check asks the inner gate, then holds steps 2 and 3.
func (h Hold) Check(ctx context.Context, req Request) (Result, error) {
	res, err := h.Inner.Check(ctx, req)
	if err != nil || res.Verdict != Pass || req.Undo {
		return res, err
	}
	switch req.Step {
	case step.Route:
		return hold(req, res, h.Settle, "settling", "settled", "the route"), nil
	case step.Flip:
		if res = hold(req, res, h.Drain, "draining", "drained", "the flip"); res.Verdict != Pass || h.Idle == nil {
			return res, nil
		}
		idle := h.Idle.check(ctx, req)
		if idle.Verdict != Pass {
			return idle, nil
		}
		res.Reason += "; " + idle.Reason
	}
	return res, nil
}

// hold turns the inner gate's Pass into a Wait until d has passed since the step was
// applied.
func hold(req Request, res Result, d time.Duration, doing, done, what string) Result {
	since, how := req.MergedAt, "merged"
	if !res.AppliedAt.IsZero() {
		since, how = res.AppliedAt, "applied"
	}
	elapsed := req.Now.Sub(since)
	if elapsed < d {
		wait := Waiting("%s %s: %s of %s since %s %s at %s (%s)",
			doing, req.Cluster, max(elapsed, 0).Truncate(time.Second), d, what, how, since.UTC().Format(time.RFC3339), res.Reason)
		// The hold ends by the clock alone: a follower sleeps until then, not polling.
		wait.RecheckAt = since.Add(d)
		return wait
	}
	if d > 0 {
		res.Reason = fmt.Sprintf("%s; %s %s", res.Reason, done, d)
	}
	return res
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
