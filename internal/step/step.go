// Package step is the vocabulary of a migration's steps: the four of them in order,
// their names, which cluster each edits, and the branch names of their pull requests.
// Every other package speaks of steps through it.
package step

import (
	"fmt"
	"strings"
)

// Step is one of the steps of a migration, numbered from 1.
type Step int

// The steps, in order.
const (
	Deploy Step = iota + 1
	Route
	Flip
	Cleanup
)

// Count is how many steps a migration has; Cleanup is the last.
const Count = int(Cleanup)

// All lists the steps in order.
func All() []Step { return []Step{Deploy, Route, Flip, Cleanup} }

// Name is the step's short name: deploy, route, flip or cleanup.
func (s Step) Name() string {
	switch s {
	case Deploy:
		return "deploy"
	case Route:
		return "route"
	case Flip:
		return "flip"
	case Cleanup:
		return "cleanup"
	}
	return fmt.Sprintf("step%d", int(s))
}

// ByName returns the step called name.
func ByName(name string) (Step, bool) {
	for _, s := range All() {
		if s.Name() == name {
			return s, true
		}
	}
	return 0, false
}

// String is the step as annotations and branches spell it: "1-deploy".
func (s Step) String() string { return fmt.Sprintf("%d-%s", int(s), s.Name()) }

// Of is the step's place among all: "1/4".
func (s Step) Of() string { return fmt.Sprintf("%d/%d", int(s), Count) }

// Valid reports whether s is one of the steps.
func (s Step) Valid() bool { return s >= Deploy && s <= Cleanup }

// Last reports whether s is the final step.
func (s Step) Last() bool { return s == Cleanup }

// EditsDestination reports whether the step edits the destination's overlay (deploy
// and route) rather than the source's (flip and cleanup).
func (s Step) EditsDestination() bool { return s <= Route }

// Cluster returns, of a migration's source and destination, the one whose overlay the
// step edits.
func (s Step) Cluster(from, to string) string {
	if s.EditsDestination() {
		return to
	}
	return from
}

// BranchPrefix starts the head branch of every gitmig pull request.
const BranchPrefix = "gitmig/"

const undoPrefix = "undo-"

// Branch is a parsed gitmig head branch: gitmig/<id>/<n>-<name> for a step, or
// gitmig/<id>/undo-<n>-<name> for the pull request that rolls step n back.
type Branch struct {
	ID   string
	Step Step
	Undo bool
}

// BranchOf names the head branch of a migration step.
func BranchOf(id string, s Step) string { return Branch{ID: id, Step: s}.String() }

// UndoBranchOf names the head branch of the pull request that rolls a step back.
func UndoBranchOf(id string, s Step) string { return Branch{ID: id, Step: s, Undo: true}.String() }

// String is the branch name.
func (b Branch) String() string {
	undo := ""
	if b.Undo {
		undo = undoPrefix
	}
	return fmt.Sprintf("%s%s/%s%s", BranchPrefix, b.ID, undo, b.Step)
}

// ParseBranch parses a gitmig head branch; it accepts only the branches BranchOf and
// UndoBranchOf name.
func ParseBranch(branch string) (Branch, bool) {
	rest, found := strings.CutPrefix(branch, BranchPrefix)
	if !found {
		return Branch{}, false
	}
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		return Branch{}, false
	}
	b := Branch{ID: rest[:i]}
	stepPart := rest[i+1:]
	stepPart, b.Undo = strings.CutPrefix(stepPart, undoPrefix)
	num, name, found := strings.Cut(stepPart, "-")
	if !found || len(num) != 1 {
		return Branch{}, false
	}
	s := Step(num[0] - '0')
	if !s.Valid() || s.Name() != name {
		return Branch{}, false
	}
	b.Step = s
	return b, true
}
