// Package report is what a reconcile pass saw and did: the migrations with what each
// waits for, the plan, and every action taken, or that a dry run would take. gitmig
// status, the pass's output and the GitHub Actions summary are drawn from it.
package report

import (
	"time"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
)

// Report is what a pass saw and did.
type Report struct {
	// Head is the base branch commit the pass read.
	Head       string            `json:"head"`
	Plan       *decide.Plan      `json:"plan,omitempty"`
	Migrations []MigrationStatus `json:"migrations"`
	Actions    []Action          `json:"actions"`
	// Notes are things a person may want to look at, such as stray branches.
	Notes []string `json:"notes,omitempty"`
	// Invalid are the record files gitmig cannot use: they hold no slot.
	Invalid []record.Invalid `json:"invalid,omitempty"`
}

// MigrationStatus is one migration as `gitmig status` shows it.
type MigrationStatus struct {
	ID        string    `json:"id"`
	Service   string    `json:"service"`
	Namespace string    `json:"namespace"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	DecidedAt time.Time `json:"decidedAt"`
	// Step is the last merged step, 0 to 4.
	Step   int    `json:"step"`
	Status string `json:"status"`
	// WaitingFor says what the migration needs next, empty once it has ended.
	WaitingFor string `json:"waitingFor"`
	// Awaits says who acts next, empty once the migration has ended.
	Awaits Awaits `json:"awaits,omitempty"`
	// RecheckAt, when set, is when the answer may change by the clock alone, whatever
	// else happens: the end of the drain, or policy.stepTimeout.
	RecheckAt    time.Time   `json:"recheckAt,omitzero"`
	Gate         *GateStatus `json:"gate,omitempty"`
	PullRequests []PRStatus  `json:"pullRequests"`
	Message      string      `json:"message,omitempty"`
	// PolicyOverridden lists what policy refused about a migration started with
	// --force.
	PolicyOverridden []string `json:"policyOverridden,omitempty"`
}

// GateStatus is the gate's latest answer on a merged step.
type GateStatus struct {
	Step    int          `json:"step"`
	Verdict gate.Verdict `json:"verdict"`
	Reason  string       `json:"reason"`
}

// PRStatus is one step's pull request.
type PRStatus struct {
	Step     int       `json:"step"`
	Number   int       `json:"number"`
	State    string    `json:"state"`
	URL      string    `json:"url"`
	Title    string    `json:"title"`
	MergedAt time.Time `json:"mergedAt,omitzero"`
}

// Awaits names who a migration waits for.
type Awaits string

// Who acts next. A migration that awaits the gate or a pass moves on without anyone's
// help, so a caller that follows passes keeps going; one that awaits a review does not.
const (
	// AwaitsGate: a merged step, or the rollback of one, is to be applied and healthy.
	AwaitsGate Awaits = "gate"
	// AwaitsPass: the next pass acts by itself, such as when a merge is not yet on the
	// base branch it read.
	AwaitsPass Awaits = "pass"
	// AwaitsReview: someone must merge or close a pull request, or fix what blocks the
	// migration.
	AwaitsReview Awaits = "review"
)

// Pending reports whether a migration moves on without anyone's help.
func (m MigrationStatus) Pending() bool {
	return m.Awaits == AwaitsGate || m.Awaits == AwaitsPass
}

// Pending lists the migrations that move on without anyone's help.
func (r *Report) Pending() []MigrationStatus {
	var out []MigrationStatus
	for _, m := range r.Migrations {
		if m.Pending() {
			out = append(out, m)
		}
	}
	return out
}

// RecheckAt is the earliest time after now at which a migration's answer may change
// by the clock alone; zero when none is set.
func (r *Report) RecheckAt(now time.Time) time.Time {
	var first time.Time
	for _, m := range r.Migrations {
		if m.RecheckAt.After(now) && (first.IsZero() || m.RecheckAt.Before(first)) {
			first = m.RecheckAt
		}
	}
	return first
}

// Action is one externally visible thing a pass did, or would do on a dry run.
type Action struct {
	Kind      ActionKind `json:"kind"`
	Migration string     `json:"migration"`
	Step      int        `json:"step,omitempty"`
	Detail    string     `json:"detail"`
	DryRun    bool       `json:"dryRun,omitempty"`
}

// StatusRollingBack is shown for a migration whose merged steps are being undone.
const StatusRollingBack = "RollingBack"

// ActionKind names an action.
type ActionKind string

// The actions of a pass.
const (
	ActionRecord     ActionKind = "record"      // a record commit pushed to the base branch
	ActionPushBranch ActionKind = "push-branch" // a step branch pushed
	ActionCreatePR   ActionKind = "create-pr"   // a pull request opened (with its labels)
	ActionFoundPR    ActionKind = "found-pr"    // the pull request a racing or interrupted pass opened
	ActionRefuse     ActionKind = "refuse"      // work gitmig did not write, found and left alone
	ActionAddLabels  ActionKind = "add-labels"  // missing labels added
	ActionMerge      ActionKind = "merge"       // an auto-merged step
	ActionComment    ActionKind = "comment"     // a comment on a pull request
	ActionClose      ActionKind = "close"       // a pull request closed with a comment
	ActionStatus     ActionKind = "status"      // a commit status set
)
