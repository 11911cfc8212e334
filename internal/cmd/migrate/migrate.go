// Package migrate implements `gitmig migrate SERVICE --to CLUSTER`: starts a migration
// by hand, or with --dry-run shows all four steps without touching anything.
package migrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/render"
)

// Options are the inputs of the migrate command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Service string
	From    string
	To      string
	DryRun  bool
	Reason  string
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the migrate command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "migrate SERVICE --to CLUSTER [--from CLUSTER] [--dry-run]",
		Short: "Move a service to another cluster by hand",
		Long: `migrate starts moving a service to another cluster through the same path as a
planned migration: a record on the base branch, then step 1's branch and pull
request; gitmig reconcile carries it on. With --dry-run it prints, for each of the
four steps, the files it changes and the rendered objects added, changed and removed
in the step's cluster, as unified YAML diffs, and touches nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Service = args[0]
			return Run(opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the destination cluster")
	cmd.Flags().StringVar(&opts.From, "from", "", "the source cluster (default: the one cluster that runs the service)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print the four steps without changing anything")
	cmd.Flags().StringVar(&opts.Reason, "reason", "started by hand with gitmig migrate", "why, for the record and the pull requests")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// Run starts the migration, or previews it with --dry-run.
func Run(opts *Options) error {
	cfg, disk, err := opts.Globals.Repository()
	if err != nil {
		return err
	}
	if !opts.DryRun {
		return start(opts, cfg)
	}
	// Every step is tried on an in-memory copy, so the work tree stays untouched.
	repo, err := disk.With(nil)
	if err != nil {
		return err
	}
	from := opts.From
	if from == "" {
		if from, err = runningCluster(repo, opts.Service); err != nil {
			return err
		}
	}
	id := render.MigrationID(opts.Service, from, opts.To, opts.Now())
	m, err := render.NewMigration(cfg, id, opts.Service, from, opts.To)
	if err != nil {
		return err
	}
	out := opts.Streams.Out
	fmt.Fprintf(out, "Migration %s: %s (namespace %s) from %s to %s, dry run\n", m.ID, m.Service.Name, m.Service.Namespace, from, opts.To)
	for _, step := range render.Steps() {
		change, err := repo.Render(m, step)
		if err != nil {
			return err
		}
		preview, err := repo.Preview(change)
		if err != nil {
			return err
		}
		printPreview(out, preview)
		if err := repo.Apply(change.Edits); err != nil {
			return err
		}
	}
	model, err := repo.Model()
	if err != nil {
		return err
	}
	findings := render.Verify(model)
	fmt.Fprintf(out, "\nAfter step 4: %s runs in %s; verify: %s\n", m.Service.Name, strings.Join(model.Running(m.Service.Name), ", "), verdict(findings))
	return nil
}

// start records the migration and opens its first pull request.
func start(opts *Options, cfg *config.Config) error {
	r, err := gitops.NewReconciler(cfg, opts.Globals.Repo, opts.Env, opts.Now)
	if err != nil {
		return err
	}
	report, err := r.Start(context.Background(), opts.Service, opts.From, opts.To, opts.Reason)
	if report != nil {
		for _, a := range report.Actions {
			fmt.Fprintf(opts.Streams.Out, "%s %s: %s\n", a.Kind, a.Migration, a.Detail)
		}
	}
	return err
}

func runningCluster(repo *render.Repo, service string) (string, error) {
	model, err := repo.Model()
	if err != nil {
		return "", err
	}
	running := model.Running(service)
	if len(running) != 1 {
		return "", fmt.Errorf("service %s runs in %d clusters (%s): say which one to move it from with --from",
			service, len(running), strings.Join(running, ", "))
	}
	return running[0], nil
}

func printPreview(out io.Writer, p *render.Preview) {
	fmt.Fprintf(out, "\n== Step %d/4 %s: cluster %s ==\n", int(p.Change.Step), p.Change.Step.Name(), p.Change.Cluster)
	fmt.Fprintln(out, "Files:")
	for _, f := range p.Files {
		fmt.Fprintf(out, "  %s %s\n", f.Status, f.Path)
	}
	fmt.Fprintln(out, "Objects:")
	for _, o := range p.Objects {
		fmt.Fprintf(out, "  %-7s %s\n", o.Action, o.Ref)
	}
	for _, o := range p.Objects {
		fmt.Fprintln(out)
		fmt.Fprint(out, o.Diff)
	}
}

func verdict(findings []render.Finding) string {
	if len(findings) == 0 {
		return "every service reachable"
	}
	var lines []string
	for _, f := range findings {
		lines = append(lines, f.String())
	}
	return fmt.Sprintf("%d problem(s):\n  %s", len(findings), strings.Join(lines, "\n  "))
}
