// Package plan implements `gitmig plan`: reads the metrics, decides which services move
// where and prints the plan with its evidence.
package plan

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/present"
)

// Options are the inputs of the plan command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Metrics cmdutil.MetricsFlags
	// SaveMetrics writes the snapshot the plan was computed from.
	SaveMetrics string
	Output      string
}

// NewCmd returns the plan command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Decide which services should move where, from Prometheus or a metrics snapshot",
		Long: `plan reads the fleet's metrics (one query per metric at one evaluation time), finds
the clusters whose utilisation stayed above policy.overload for the whole policy.sustain
window and the services that can relieve them, filters and scores the destinations,
and prints the decisions with every reason and number. It changes nothing.

--save-metrics writes the numbers as a MetricsSnapshot file; --metrics plans from
such a file, so that any plan can be replayed and explained offline.`,
		Example: `  gitmig plan
  gitmig plan --prometheus http://prometheus:9090 --time 2026-05-04T09:00:00Z -o json
  gitmig plan --metrics examples/metrics/edge-overloaded.yaml -o markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	opts.Metrics.AddFlags(cmd)
	cmd.Flags().StringVar(&opts.SaveMetrics, "save-metrics", "", "write the metrics the plan used to this file")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or markdown")
	return cmd
}

// Run computes the plan and prints it.
func Run(ctx context.Context, opts *Options) error {
	if err := cmdutil.Output(opts.Output, "table", "json", "markdown"); err != nil {
		return err
	}
	at, err := opts.Metrics.EvaluationTime(time.Now())
	if err != nil {
		return err
	}
	ctx = cmdutil.Context(ctx)
	model, err := opts.Globals.Model(ctx, opts.Streams)
	if err != nil {
		return err
	}
	cfg := model.Config
	placement, err := gitops.Placement(model)
	if err != nil {
		return err
	}
	source, err := opts.Metrics.Source(cfg)
	if err != nil {
		return err
	}
	snap, err := source.Snapshot(ctx, at)
	if err != nil {
		return fmt.Errorf("reading metrics: %w", err)
	}
	if opts.SaveMetrics != "" {
		if err := snap.Save(opts.SaveMetrics); err != nil {
			return fmt.Errorf("--save-metrics %s: %w", opts.SaveMetrics, err)
		}
	}
	// The work tree's records say what is in flight and what cools down, as a pass of
	// gitmig reconcile would read them on the base branch.
	records, invalid, err := record.LoadAll(model.Tree, cfg)
	if err != nil {
		return err
	}
	for _, r := range invalid {
		fmt.Fprintf(opts.Streams.Err, "gitmig: warning: %s is not a usable migration record, ignored: %s\n", r.File, r.Problem)
	}
	in := gitops.Constraints(cfg, records, at)
	in.Config, in.Fleet, in.Metrics = cfg, placement, snap
	plan := decide.NewPlan(in)
	switch opts.Output {
	case "json":
		return present.PlanJSON(opts.Streams.Out, plan)
	case "markdown":
		return present.PlanMarkdown(opts.Streams.Out, plan, snap, cfg.Policy)
	}
	return present.PlanTable(opts.Streams.Out, plan)
}
