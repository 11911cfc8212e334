// Package status implements `gitmig status`: every migration, its step, its pull
// requests and what it waits for.
package status

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/present"
)

// Options are the inputs of the status command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Output  string
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the status command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every migration, its step, its pull requests and what it waits for",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table or json")
	return cmd
}

// Run reads the migrations from the remote and the forge, changing nothing.
func Run(ctx context.Context, opts *Options) error {
	if err := cmdutil.Output(opts.Output, "table", "json"); err != nil {
		return err
	}
	r, _, err := opts.Globals.Reconciler(opts.Streams, opts.Env, opts.Now, nil)
	if err != nil {
		return err
	}
	report, err := r.Status(cmdutil.Context(ctx))
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return present.StatusJSON(opts.Streams.Out, report)
	}
	return present.StatusTable(opts.Streams.Out, report)
}
