// Package forge is gitmig's narrow view of where pull requests live: GitHub, or the
// local forge that keeps them in the git remote itself. The reconciler sees only this
// package's types; SDK types stay inside each implementation.
package forge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Label marks every pull request gitmig opens.
const Label = "gitmig"

// State is a pull request's state.
type State string

// Pull request states.
const (
	StateOpen   State = "open"
	StateMerged State = "merged"
	StateClosed State = "closed"
)

// PullRequest is what gitmig needs to know of a pull request.
type PullRequest struct {
	Number int    `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body,omitempty"`
	// Head is the branch name, without refs/heads/.
	Head    string   `json:"head"`
	HeadSHA string   `json:"headSha,omitempty"`
	Base    string   `json:"base"`
	State   State    `json:"state"`
	Labels  []string `json:"labels,omitempty"`
	URL     string   `json:"url"`
	// MergeCommit is the commit the merge made on the base branch.
	MergeCommit string    `json:"mergeCommit,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	MergedAt    time.Time `json:"mergedAt,omitzero"`
	ClosedAt    time.Time `json:"closedAt,omitzero"`
	// Found is set by Create when the pull request was open already, not opened.
	Found bool `json:"-"`
}

// HasLabel reports whether the pull request carries label.
func (pr PullRequest) HasLabel(label string) bool {
	for _, l := range pr.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// NewPullRequest is a pull request to open.
type NewPullRequest struct {
	Title  string
	Body   string
	Head   string
	Base   string
	Labels []string
}

// StatusState is the state of a commit status.
type StatusState string

// Commit status states, as GitHub names them.
const (
	StatusPending StatusState = "pending"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// Status is a commit status: gitmig reports each step's gate on the step's commit.
type Status struct {
	State       StatusState `json:"state"`
	Context     string      `json:"context"`
	Description string      `json:"description,omitempty"`
	TargetURL   string      `json:"targetUrl,omitempty"`
}

// Comment is a comment on a pull request.
type Comment struct {
	// Author is the commenter's login; empty where the forge keeps none.
	Author    string    `json:"author,omitempty"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"createdAt"`
}

// Forge opens, reads and closes gitmig's pull requests.
type Forge interface {
	// List returns gitmig's pull requests, open and recently merged or closed: those
	// whose head branch starts with step.BranchPrefix. One pass makes one call.
	List(ctx context.Context) ([]PullRequest, error)
	// Create opens a pull request, or returns the one already open for the same head
	// branch, so that a pass interrupted after creating it converges.
	Create(ctx context.Context, pr NewPullRequest) (PullRequest, error)
	// UpdateBody replaces a pull request's description.
	UpdateBody(ctx context.Context, number int, body string) error
	// AddLabels adds labels to a pull request; labels it has already are kept once.
	AddLabels(ctx context.Context, number int, labels ...string) error
	// Comment adds a comment to a pull request.
	Comment(ctx context.Context, number int, body string) error
	// Close closes a pull request without merging it, after commenting why.
	Close(ctx context.Context, number int, comment string) error
	// Merge merges an open pull request into its base with a merge commit, only while
	// its head is the commit head names (any head when head is empty): a head pushed
	// after gitmig checked it is never merged (ErrHeadMoved). gitmig merges only the
	// steps whose auto-merge is enabled, and only heads it checked.
	Merge(ctx context.Context, number int, head string) (PullRequest, error)
	// SetStatus sets a commit status on a commit.
	SetStatus(ctx context.Context, sha string, status Status) error
	// Statuses returns the latest commit status of each context on a commit, by
	// context.
	Statuses(ctx context.Context, sha string) ([]Status, error)
	// Comments returns a pull request's comments, oldest first.
	Comments(ctx context.Context, number int) ([]Comment, error)
	// HeadURL is a web address that leads to the pull request of a head branch, known
	// before the pull request exists, so that the commit opening it can link to it.
	HeadURL(head string) string
}

// RateLimitError reports that the forge refuses calls until Reset. It is retryable:
// the pass stops before any partial change and the next pass after Reset resumes.
type RateLimitError struct {
	Reset time.Time
	// Secondary is true for GitHub's secondary (abuse) limits.
	Secondary bool
	Message   string
}

func (e *RateLimitError) Error() string {
	kind := "rate limit"
	if e.Secondary {
		kind = "secondary rate limit"
	}
	msg := fmt.Sprintf("forge %s exceeded", kind)
	if !e.Reset.IsZero() {
		msg += fmt.Sprintf("; retry after %s", e.Reset.UTC().Format(time.RFC3339))
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// ErrHeadMoved is returned by Merge when the pull request's head is not the commit the
// caller checked.
var ErrHeadMoved = errors.New("the pull request's head is not the commit that was checked")

// ErrNotFound is returned for a pull request number the forge does not know.
var ErrNotFound = errors.New("pull request not found")
