// Package root wires gitmig's commands into one cobra tree.
package root

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmd/abort"
	"github.com/gitmig/gitmig/internal/cmd/build"
	"github.com/gitmig/gitmig/internal/cmd/demo"
	"github.com/gitmig/gitmig/internal/cmd/migrate"
	"github.com/gitmig/gitmig/internal/cmd/plan"
	"github.com/gitmig/gitmig/internal/cmd/pr"
	"github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/cmd/serve"
	"github.com/gitmig/gitmig/internal/cmd/status"
	"github.com/gitmig/gitmig/internal/cmd/step"
	"github.com/gitmig/gitmig/internal/cmd/verify"
	"github.com/gitmig/gitmig/internal/cmd/version"
	"github.com/gitmig/gitmig/internal/cmdutil"
)

// Run executes the gitmig command line args; cancelling ctx stops the command at a
// safe point.
func Run(ctx context.Context, args []string, streams cmdutil.Streams) error {
	cmd := NewCmd(streams)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

// NewCmd returns the root command with every subcommand attached.
func NewCmd(streams cmdutil.Streams) *cobra.Command {
	g := &cmdutil.Globals{}
	cmd := &cobra.Command{
		Use:   "gitmig",
		Short: "Move microservices between Kubernetes clusters through reviewed Git commits",
		Long: `gitmig decides from Prometheus when a service must leave an overloaded cluster and
where it should go, then carries the move out as four kustomize overlay commits, one
pull request each, waiting for Argo CD or Flux to apply every step.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(streams.In)
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.Err)
	g.AddFlags(cmd)
	cmd.AddCommand(
		abort.NewCmd(streams, g),
		build.NewCmd(streams, g),
		demo.NewCmd(streams),
		migrate.NewCmd(streams, g),
		reconcile.NewCmd(streams, g),
		serve.NewCmd(streams, g),
		status.NewCmd(streams, g),
		plan.NewCmd(streams, g),
		pr.NewCmd(streams, g),
		step.NewCmd(streams, g),
		verify.NewCmd(streams, g),
		version.NewCmd(streams),
	)
	return cmd
}
