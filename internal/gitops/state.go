package gitops

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sort"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// state is everything a pass knows, read once at its start.
type state struct {
	head       string
	cfg        *config.Config
	tree       tree.Tree
	migrations []*migration
	// notes are what a person may want to look at: gitmig pull requests of no
	// record, a work tree's gitmig.yaml that differs from the base branch's.
	notes []string
	// invalid are the record files that cannot be used, shown and otherwise ignored.
	invalid []record.Invalid
	// orphans are the pull requests of migration ids that have no record.
	orphans map[string][]forge.PullRequest

	builder *fleet.Builder
	model   *fleet.Model
}

// fleet returns the model of the base branch at the pass's head, built on first use:
// a pass that renders nothing and plans nothing builds no overlay.
func (st *state) fleet(ctx context.Context) (*fleet.Model, error) {
	if st.model != nil {
		return st.model, nil
	}
	m, err := st.builder.Load(ctx, st.tree, st.cfg)
	if err != nil {
		return nil, fmt.Errorf("building the overlays at %s: %w", short(st.head), err)
	}
	st.model = m
	return m, nil
}

// moveTo follows the base branch to sha, a commit this pass pushed on top of the head
// with edits, which are records: the model follows without building anything again.
func (st *state) moveTo(sha string, edits []tree.Edit) error {
	st.head = sha
	st.tree = tree.With(st.tree, edits)
	if st.model == nil {
		return nil
	}
	model, err := st.model.With(edits)
	st.model = model
	return err
}

// migration joins a record on the base branch with its pull requests and branches.
type migration struct {
	rec *record.Record
	// prs holds each step's pull request, the newest when a step has several; undos
	// the pull requests that roll steps back, by the step they undo.
	prs      map[step.Step]forge.PullRequest
	undos    map[step.Step]forge.PullRequest
	branches map[step.Branch]string
	// reverted holds the merged steps reverted by hand on the base branch, each as the
	// commit that did it, in the place of a rollback pull request's merge (see
	// findHandReverts).
	reverted map[step.Step]forge.PullRequest
}

func newMigration(rec *record.Record) *migration {
	return &migration{rec: rec, prs: map[step.Step]forge.PullRequest{}, undos: map[step.Step]forge.PullRequest{}, branches: map[step.Branch]string{}, reverted: map[step.Step]forge.PullRequest{}}
}

func (m *migration) id() string { return m.rec.ID() }

// merged is the last step merged on the base branch and not undone, 0 when none is.
func (m *migration) merged() step.Step { return step.Step(m.rec.Status.Step) }

// load reads the base branch at the workspace's head, the forge and the remote branches.
func (r *Reconciler) load(ctx context.Context, ws *workspace.Workspace) (*state, error) {
	st := &state{head: ws.Head(), builder: r.builder(), orphans: map[string][]forge.PullRequest{}}
	var err error
	if st.tree, err = ws.Tree(st.head); err != nil {
		return nil, err
	}
	if st.cfg, err = r.config(st.tree); err != nil {
		return nil, err
	}
	if err := r.follow(st.cfg); err != nil {
		return nil, fmt.Errorf("gitmig.yaml on %s at %s: %w", ws.Branch(), short(st.head), err)
	}
	if r.WorkTree != nil && r.Config == nil && st.cfg != r.WorkTree {
		st.notes = append(st.notes, fmt.Sprintf("gitmig.yaml here differs from %s's at %s: this pass follows %s's", ws.Branch(), short(st.head), ws.Branch()))
	}
	records, invalid, err := record.LoadAll(st.tree, st.cfg)
	if err != nil {
		return nil, fmt.Errorf("reading migration records at %s: %w", short(st.head), err)
	}
	st.invalid = invalid
	prs, err := r.Forge.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing pull requests: %w", err)
	}
	branches, err := ws.RemoteBranches(ctx, step.BranchPrefix)
	if err != nil {
		return nil, err
	}
	byID := map[string]*migration{}
	for _, rec := range records {
		m := newMigration(rec)
		byID[rec.ID()] = m
		st.migrations = append(st.migrations, m)
	}
	sort.Slice(prs, func(i, j int) bool { return prs[i].Number < prs[j].Number })
	for _, pr := range prs {
		b, ok := step.ParseBranch(pr.Head)
		m := byID[b.ID]
		switch {
		case !ok || m == nil:
			st.notes = append(st.notes, fmt.Sprintf("pull request #%d (%s) has no migration record", pr.Number, pr.Head))
			if ok {
				st.orphans[b.ID] = append(st.orphans[b.ID], pr)
			}
		case b.Undo:
			m.undos[b.Step] = pr
		default:
			m.prs[b.Step] = pr
		}
	}
	for _, branch := range slices.Sorted(maps.Keys(branches)) {
		if b, ok := step.ParseBranch(branch); ok && byID[b.ID] != nil {
			byID[b.ID].branches[b] = branches[branch]
		}
	}
	return st, nil
}

// config is the gitmig.yaml the pass runs with: the one given, or the base branch's.
// The base branch's is decoded only when its bytes are new: a steady pass reads the
// same file as the pass before and as the work tree, and at thousands of services
// decoding it again would be most of the pass's CPU. It is validated every time,
// against the tree it comes with.
func (r *Reconciler) config(files fs.FS) (*config.Config, error) {
	if r.Config != nil {
		return r.Config, nil
	}
	data, err := fs.ReadFile(files, "gitmig.yaml")
	if err != nil {
		return nil, fmt.Errorf("reading gitmig.yaml from the base branch: %w", err)
	}
	var cfg *config.Config
	switch {
	case r.WorkTree.DecodedFrom(data):
		cfg = r.WorkTree
	case r.lastConfig.DecodedFrom(data):
		cfg = r.lastConfig
	default:
		if cfg, err = config.Parse(data); err != nil {
			return nil, fmt.Errorf("gitmig.yaml on the base branch: %w", err)
		}
	}
	if err := cfg.Validate(files); err != nil {
		return nil, fmt.Errorf("gitmig.yaml on the base branch: %w", err)
	}
	r.lastConfig = cfg
	return cfg, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
