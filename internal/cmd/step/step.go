// Package step implements `gitmig step`: writes one step's edits into a work tree.
package step

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// Options are the inputs of the step command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Service string
	From    string
	To      string
	Step    int
	// ID is the migration id written into annotations; by default the id of the
	// migration already under way in the tree, or a new one.
	ID  string
	Now func() time.Time
}

// NewCmd returns the step command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "step --service S --from A --to B --step N",
		Short: "Write one migration step's overlay edits into the work tree",
		Long: `step writes the edits of step N (1 deploy, 2 route, 3 flip, 4 cleanup) of moving a
service from cluster A to cluster B into the work tree, and prints the files it
changed. It refuses a tree that is not in the state step N expects.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Service, "service", "", "the service to move")
	cmd.Flags().StringVar(&opts.From, "from", "", "the source cluster")
	cmd.Flags().StringVar(&opts.To, "to", "", "the destination cluster")
	cmd.Flags().IntVar(&opts.Step, "step", 0, "the step: 1 deploy, 2 route, 3 flip, 4 cleanup")
	cmd.Flags().StringVar(&opts.ID, "id", "", "the migration id (default: the one under way, or a new one)")
	for _, f := range []string{"service", "from", "to", "step"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// Run renders the step and writes it to disk.
func Run(ctx context.Context, opts *Options) error {
	model, err := opts.Globals.Model(cmdutil.Context(ctx), opts.Streams)
	if err != nil {
		return err
	}
	id := opts.ID
	if id == "" {
		if id = render.InProgressID(model, opts.Service, opts.From, opts.To); id == "" {
			id = render.MigrationID(opts.Service, opts.From, opts.To, opts.Now())
		}
	}
	m, err := render.NewMigration(model.Config, id, opts.Service, opts.From, opts.To)
	if err != nil {
		return err
	}
	change, err := render.Render(model, m, step.Step(opts.Step))
	if err != nil {
		return err
	}
	preview, err := change.Preview()
	if err != nil {
		return err
	}
	if err := writeEdits(opts.Globals.Repo, change.Edits); err != nil {
		return err
	}
	fmt.Fprintf(opts.Streams.Out, "%s: step %s %s in %s\n", m.ID, change.Step.Of(), change.Step.Name(), change.Cluster)
	for _, f := range preview.Files {
		fmt.Fprintf(opts.Streams.Out, "  %s %s\n", f.Status, f.Path)
	}
	return nil
}

// writeEdits writes edits into the work tree at dir, refusing paths that leave it.
func writeEdits(dir string, edits []tree.Edit) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, e := range edits {
		p := filepath.FromSlash(e.Path)
		if e.Delete {
			if err := root.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("deleting %s: %w", e.Path, err)
			}
			continue
		}
		if err := root.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing %s: %w", e.Path, err)
		}
		if err := root.WriteFile(p, e.Content, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", e.Path, err)
		}
	}
	return nil
}
