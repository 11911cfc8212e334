package rehearsal

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// exampleModel builds the example fleet with its gitmig.yaml passed through edit.
func exampleModel(t *testing.T, edit func(string) string) *fleet.Model {
	t.Helper()
	data, err := fs.ReadFile(gitmig.Example, "gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(edit(string(data))))
	if err != nil {
		t.Fatal(err)
	}
	model, err := fleet.NewBuilder(nil, 0).Load(context.Background(), tree.FromFS(gitmig.Example), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return model
}

func migration(t *testing.T, model *fleet.Model, to string) render.Migration {
	t.Helper()
	m, err := render.NewMigration(model.Config, "orc8r-edge-to-"+to+"-20260504-0900", "orc8r", "edge", to)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRehearsalCarriesAMoveThroughAllFourSteps(t *testing.T) {
	model := exampleModel(t, func(s string) string { return s })
	r, err := Run(model, migration(t, model, "cloud"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != step.Count {
		t.Fatalf("%d changes, want %d", len(r.Changes), step.Count)
	}
	svc, _ := model.Config.Service("orc8r")
	if got := r.Final.Running(svc); !slices.Equal(got, []string{"cloud"}) {
		t.Errorf("after the rehearsal orc8r runs in %v, want cloud", got)
	}
	// The model it started from is untouched: a rehearsal writes nothing.
	if got := model.Running(svc); !slices.Equal(got, []string{"edge"}) {
		t.Errorf("the rehearsal changed the model it was given: orc8r runs in %v", got)
	}
}

func TestRehearsalStopsAtTheStepThatCannotBeCarriedOut(t *testing.T) {
	// fog's Traefik has no entry point for orc8r's api port (8080): step 2 has nowhere
	// to route it, so the move must not start, and the error says which step.
	model := exampleModel(t, func(s string) string {
		i := strings.Index(s, "  - name: fog\n")
		j := i + strings.Index(s[i:], ", api: 8080")
		return s[:j] + s[j+len(", api: 8080"):]
	})
	r, err := Run(model, migration(t, model, "fog"))
	var rehearsed *Error
	if !errors.As(err, &rehearsed) {
		t.Fatalf("error %v, want a rehearsal error", err)
	}
	if rehearsed.Step != step.Route || rehearsed.Err == nil || !strings.Contains(err.Error(), "step 2 (route) cannot be carried out") {
		t.Errorf("error %q at step %d, want step 2 failing to render", err, rehearsed.Step)
	}
	if len(r.Changes) != 1 {
		t.Errorf("%d changes kept, want the one step before the failure", len(r.Changes))
	}
}
