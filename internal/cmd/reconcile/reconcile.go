// Package reconcile implements `gitmig reconcile`: the scheduled job that advances
// every migration by at most one step and starts new ones from the plan.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/report"
)

// Options are the inputs of the reconcile command.
type Options struct {
	Globals  *cmdutil.Globals
	Streams  cmdutil.Streams
	Metrics  cmdutil.MetricsFlags
	Once     bool
	Interval time.Duration
	// Follow keeps passing while a migration moves on without anyone's help, woken
	// by the engine's objects changing and by waits on the clock ending.
	Follow bool
	// Timeout bounds each pass, however its calls fare; with Follow, the whole follow.
	Timeout time.Duration
	DryRun  bool
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the reconcile command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "reconcile [--once | --interval D | --follow [--timeout D]] [--dry-run]",
		Short: "Advance every migration by at most one step and start new ones from the plan",
		Long: `reconcile runs one pass, or one every --interval: it rebuilds its state from the
repository's migration records, gitmig's pull requests and the gates, advances each
migration by at most one step, then starts new migrations from the plan while fewer
than policy.maxConcurrent are in flight. A pass is idempotent: run it again after any
interruption and it converges.

With --follow, reconcile keeps passing while a migration moves on without anyone's
help: a merged step waits for its gate, or a step gitmig merged itself. It watches the
Argo CD Applications or Flux Kustomizations the gates read and passes again when one
changes, or when a wait on the clock (the route's settle, the drain) ends; it returns
when every migration waits for a review or has ended, or after --timeout. With
prompt reviews, or autoMerge, a migration can finish within one run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	opts.Metrics.AddFlags(cmd)
	cmd.Flags().BoolVar(&opts.Once, "once", false, "run one pass and exit (the default without --interval)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 0, "run a pass every interval until interrupted")
	cmd.Flags().BoolVar(&opts.Follow, "follow", false, "keep passing while a gate or a merge gitmig made is pending, then exit")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", DefaultTimeout, "give up a pass that takes longer; the next one carries on (with --follow: stop following after this long)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "print what a pass would do without doing it")
	cmd.MarkFlagsMutuallyExclusive("once", "interval", "follow")
	return cmd
}

// DefaultTimeout bounds a pass: well above the minute or two a large fleet's cold pass
// takes, well below a scheduled job's limit.
const DefaultTimeout = 10 * time.Minute

// Run runs the passes. When ctx is cancelled (SIGINT, SIGTERM), the pass under way
// stops at its next safe point, its summary is written, and Run returns why.
func Run(ctx context.Context, opts *Options) error {
	ctx = cmdutil.Context(ctx)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	r, cfg, err := opts.Globals.Reconciler(opts.Streams, opts.Env, opts.Now, &opts.Metrics)
	if err != nil {
		return err
	}
	r.DryRun = opts.DryRun
	passTimeout := opts.Timeout
	if opts.Follow {
		passTimeout = DefaultTimeout
	}
	pass := func() (*report.Report, error) {
		ctx, cancel := context.WithTimeoutCause(ctx, passTimeout, fmt.Errorf("the pass took longer than %s", passTimeout))
		defer cancel()
		rep, err := r.Pass(ctx)
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", err, context.Cause(ctx))
		}
		if rep != nil {
			_ = present.Pass(opts.Streams.Out, rep)
		}
		return rep, err
	}
	if opts.Follow {
		return follow(ctx, opts, cfg, pass)
	}
	if opts.Interval <= 0 {
		rep, err := pass()
		return errors.Join(err, appendSummary(opts.Env, rep, opts.DryRun, err))
	}
	for {
		rep, err := pass()
		if serr := appendSummary(opts.Env, rep, opts.DryRun, err); serr != nil {
			fmt.Fprintf(opts.Streams.Err, "gitmig: %v\n", serr)
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		wait := opts.Interval
		if err != nil {
			fmt.Fprintf(opts.Streams.Err, "gitmig: pass failed: %v\n", err)
			var limited *forge.RateLimitError
			if errors.As(err, &limited) && time.Until(limited.Reset) > wait {
				wait = time.Until(limited.Reset)
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return context.Cause(ctx)
		case <-timer.C:
		}
	}
}
