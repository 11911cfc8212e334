// Package migrate implements `gitmig migrate SERVICE --to CLUSTER`: starts a migration
// by hand, or with --dry-run shows all four steps without touching anything. Policy
// judges a move by hand as it judges the plan's own; --force overrides it, and says so.
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
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/rehearsal"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
	"github.com/gitmig/gitmig/internal/verify"
)

// Options are the inputs of the migrate command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Service string
	From    string
	To      string
	DryRun  bool
	// Force starts a migration that policy refuses.
	Force   bool
	Reason  string
	Metrics cmdutil.MetricsFlags
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the migrate command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "migrate SERVICE --to CLUSTER [--from CLUSTER] [--dry-run] [--force]",
		Short: "Move a service to another cluster by hand",
		Long: `migrate starts moving a service to another cluster through the same path as a
planned migration. Policy judges the move by the plan's rules, on the metrics of now:
the service is not pinned, cooling down or migrating already, a slot of
policy.maxConcurrent is free, and the destination is allowed by its tiers, within
policy.target once it holds the service, within maxLatencyMs of its clients, has an
entry point for every port and reaches what the service calls. Metrics that cannot be
read are a refusal too. --force starts a refused migration anyway; its record, pull
requests and gitmig status then say what policy refused.

All four steps are then rendered and verified on the fleet, in memory: a migration
that cannot finish never starts. Then a record on the base branch claims it and step
1's branch and pull request open; gitmig reconcile carries it on.

With --dry-run it prints policy's verdict and, for each of the four steps, the files
it changes and the rendered objects added, changed and removed in the step's cluster,
as unified YAML diffs, and touches nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Service = args[0]
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "the destination cluster")
	cmd.Flags().StringVar(&opts.From, "from", "", "the source cluster (default: the one cluster that runs the service)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print policy's verdict and the four steps without changing anything")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "start the migration although policy refuses it (never one that cannot finish)")
	opts.Metrics.AddFlags(cmd)
	cmd.Flags().StringVar(&opts.Reason, "reason", "started by hand with gitmig migrate", "why, for the record and the pull requests")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// Run starts the migration, or previews it with --dry-run.
func Run(ctx context.Context, opts *Options) error {
	ctx = cmdutil.Context(ctx)
	if !opts.DryRun {
		return start(ctx, opts)
	}
	// Every step is rendered on the model of the one before, so the work tree stays
	// untouched.
	model, err := opts.Globals.Model(ctx, opts.Streams)
	if err != nil {
		return err
	}
	cfg := model.Config
	from := opts.From
	if from == "" {
		if from, err = runningCluster(model, opts.Service); err != nil {
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
	if err := printJudgement(ctx, opts, model, from); err != nil {
		return err
	}
	r, rehearsed := rehearsal.Run(model, m)
	for _, change := range r.Changes {
		preview, err := change.Preview()
		if err != nil {
			return err
		}
		printPreview(out, preview)
	}
	if rehearsed != nil {
		return fmt.Errorf("this migration cannot finish, so gitmig would not start it: %w", rehearsed)
	}
	fmt.Fprintf(out, "\nAfter step %d: %s runs in %s; verify: %s\n", step.Count, m.Service.Name, strings.Join(r.Final.Running(m.Service), ", "), verdict(verify.Verify(r.Final)))
	// Where its clients run, the way their name leads and what it costs: one hop to
	// the destination, gitmig re-pointing what earlier moves left behind.
	for _, p := range verify.Paths(r.Final, m.Service) {
		fmt.Fprintf(out, "  client %s\n", p)
	}
	return nil
}

// printJudgement says what policy makes of the move, with the work tree's records.
func printJudgement(ctx context.Context, opts *Options, model *fleet.Model, from string) error {
	source, err := opts.Metrics.Source(model.Config)
	if err != nil {
		return err
	}
	at, err := opts.Metrics.EvaluationTime(opts.Now())
	if err != nil {
		return err
	}
	records, _, err := record.LoadAll(model.Tree, model.Config)
	if err != nil {
		return err
	}
	j, err := gitops.Weigh(ctx, model, records, source, at, opts.Service, from, opts.To)
	if err != nil {
		return err
	}
	out := opts.Streams.Out
	if len(j.Refusals) == 0 {
		fmt.Fprintf(out, "Policy: allowed. %s: %s\n", opts.To, text.Printable(j.Candidate.Why))
		return nil
	}
	fmt.Fprintf(out, "Policy: refused (--force would start it anyway):\n")
	for _, r := range j.Refusals {
		fmt.Fprintf(out, "  - %s\n", text.Printable(r))
	}
	return nil
}

// start records the migration and opens its first pull request.
func start(ctx context.Context, opts *Options) error {
	r, _, err := opts.Globals.Reconciler(opts.Streams, opts.Env, opts.Now, &opts.Metrics)
	if err != nil {
		return err
	}
	report, err := r.Start(ctx, gitops.StartRequest{Service: opts.Service, From: opts.From, To: opts.To, Reason: opts.Reason, Force: opts.Force})
	if report != nil {
		for _, a := range report.Actions {
			fmt.Fprintf(opts.Streams.Out, "%s %s: %s\n", a.Kind, a.Migration, text.Printable(a.Detail))
		}
	}
	return err
}

func runningCluster(model *fleet.Model, service string) (string, error) {
	svc, ok := model.Config.Service(service)
	if !ok {
		return "", fmt.Errorf("unknown service %q: it is not in gitmig.yaml's services", service)
	}
	running := model.Running(svc)
	if len(running) != 1 {
		return "", fmt.Errorf("service %s runs in %d clusters (%s): say which one to move it from with --from",
			service, len(running), strings.Join(running, ", "))
	}
	return running[0], nil
}

func printPreview(out io.Writer, p *render.Preview) {
	fmt.Fprintf(out, "\n== Step %s %s: cluster %s ==\n", p.Change.Step.Of(), p.Change.Step.Name(), strings.Join(p.Change.Clusters(), ", "))
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

func verdict(findings []verify.Finding) string {
	if len(findings) == 0 {
		return "every service reachable"
	}
	var lines []string
	for _, f := range findings {
		lines = append(lines, f.String())
	}
	return fmt.Sprintf("%d problem(s):\n  %s", len(findings), strings.Join(lines, "\n  "))
}
