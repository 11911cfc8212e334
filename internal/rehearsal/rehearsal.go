// Package rehearsal carries all four steps of a migration out in memory, on the fleet's
// model, and verifies the fleet after each one. gitmig rehearses a migration before it
// writes anything for it, planned or started by hand: one that cannot finish, or that
// would leave a client without its service on the way, never starts.
package rehearsal

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/verify"
)

// Rehearsal is a migration carried out on a model.
type Rehearsal struct {
	// Changes are the steps rendered, in order: all four, or those before the one
	// that failed.
	Changes []*render.Change
	// Final is the fleet after the last step rendered.
	Final *fleet.Model
}

// Error says which step cannot be carried out: it does not render, or the fleet after
// it breaks what was not broken before.
type Error struct {
	Step step.Step
	// Err is why the step does not render; nil when it renders.
	Err error
	// Broken are the findings of verify after the step that it did not report before
	// the migration.
	Broken []verify.Finding
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("step %d (%s) cannot be carried out: %v", int(e.Step), e.Step.Name(), e.Err)
	}
	broken := make([]string, len(e.Broken))
	for i, f := range e.Broken {
		broken[i] = f.String()
	}
	return fmt.Sprintf("after step %d (%s) the fleet would be broken: %s", int(e.Step), e.Step.Name(), strings.Join(broken, "; "))
}

func (e *Error) Unwrap() error { return e.Err }

// Run renders the four steps of m, each on the fleet the one before leaves, and
// verifies the fleet after each. Problems verify finds before the migration are the
// fleet's own and do not count against it. A step that fails ends the rehearsal with
// an *Error; the returned Rehearsal then holds the steps before it.
func Run(model *fleet.Model, m render.Migration) (*Rehearsal, error) {
	before := verify.Verify(model)
	r := &Rehearsal{Final: model}
	for _, s := range step.All() {
		change, err := render.Render(r.Final, m, s)
		if err != nil {
			return r, &Error{Step: s, Err: err}
		}
		r.Changes, r.Final = append(r.Changes, change), change.After
		if broken := newFindings(before, verify.Verify(r.Final)); len(broken) > 0 {
			return r, &Error{Step: s, Broken: broken}
		}
	}
	return r, nil
}

// newFindings are those of after that before does not have.
func newFindings(before, after []verify.Finding) []verify.Finding {
	var out []verify.Finding
	for _, f := range after {
		if !slices.Contains(before, f) {
			out = append(out, f)
		}
	}
	return out
}
