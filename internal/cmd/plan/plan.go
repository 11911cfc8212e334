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
)

// Options are the inputs of the plan command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	// Prometheus overrides policy.prometheus.url.
	Prometheus string
	// Metrics replays a MetricsSnapshot file instead of querying Prometheus.
	Metrics string
	// Time is the RFC3339 evaluation time; now when empty.
	Time string
	// SaveMetrics writes the snapshot the plan was computed from.
	SaveMetrics string
	Output      string
	// Retry tunes the Prometheus client; the zero value is the default policy.
	Retry decide.PrometheusOptions
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
	f := cmd.Flags()
	f.StringVar(&opts.Prometheus, "prometheus", "", "Prometheus URL (default policy.prometheus.url)")
	f.StringVar(&opts.Metrics, "metrics", "", "plan from this MetricsSnapshot file instead of Prometheus")
	f.StringVar(&opts.Time, "time", "", "evaluation time, RFC3339 (default now)")
	f.StringVar(&opts.SaveMetrics, "save-metrics", "", "write the metrics the plan used to this file")
	f.StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or markdown")
	cmd.MarkFlagsMutuallyExclusive("prometheus", "metrics")
	cmd.MarkFlagsMutuallyExclusive("time", "metrics")
	return cmd
}

// Run computes the plan and prints it.
func Run(ctx context.Context, opts *Options) error {
	if err := cmdutil.Output(opts.Output, "table", "json", "markdown"); err != nil {
		return err
	}
	at := time.Now().UTC().Truncate(time.Second)
	if opts.Time != "" {
		t, err := time.Parse(time.RFC3339, opts.Time)
		if err != nil {
			return fmt.Errorf("--time %q: want RFC3339, such as 2026-05-04T09:00:00Z", opts.Time)
		}
		at = t.UTC()
	}
	cfg, repo, err := opts.Globals.Repository()
	if err != nil {
		return err
	}
	model, err := repo.Model()
	if err != nil {
		return err
	}
	fleet, err := Fleet(cfg, model)
	if err != nil {
		return err
	}
	var source decide.Source = decide.FileSource{Path: opts.Metrics}
	if opts.Metrics == "" {
		retry := opts.Retry
		retry.URL = opts.Prometheus
		prom, err := decide.NewPrometheusSource(cfg, retry)
		if err != nil {
			return err
		}
		source = prom
	}
	if ctx == nil {
		ctx = context.Background()
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
	// Migrations in flight and cooldowns come from the migration records, which
	// `gitmig reconcile` reads; a plan on its own starts from none.
	plan := decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: snap})
	switch opts.Output {
	case "json":
		return decide.WriteJSON(opts.Streams.Out, plan)
	case "markdown":
		return decide.WriteMarkdown(opts.Streams.Out, plan, snap, cfg.Policy)
	}
	return decide.WriteTable(opts.Streams.Out, plan)
}
