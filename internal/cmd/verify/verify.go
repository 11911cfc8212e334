// Package verify implements `gitmig verify`: builds every overlay and checks that every
// service stays reachable and that no trap of a migration is in the tree.
package verify

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/verify"
)

// Options are the inputs of the verify command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Output  string
	// StepBranch, when set, checks that this branch or commit of a gitmig step pull
	// request is exactly the step gitmig writes, instead of verifying the tree.
	StepBranch string
}

// NewCmd returns the verify command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every service leads to a Deployment from everywhere it is called",
		Long: `verify builds every cluster's overlay and follows each service in gitmig.yaml from
every cluster where one of its clients runs or a Service of its name exists: a
ClusterIP Service must select a Deployment in the same cluster; an ExternalName must
name a cluster's ingress dnsName whose Traefik carries each port the way it speaks, on
the entry point of its port (an IngressRoute matching every name clients use for HTTP
and h2c, an IngressRouteTCP passing TLS through on those names for TLS, one of its own
for raw TCP and UDP), and forwards to such a Service there. It also reports the traps
of a migration. It exits 1 when it finds anything.

With --step-branch REF it checks a gitmig step pull request instead: REF (its branch
gitmig/<migration id>/<n>-<step>, or its head commit) must be exactly one commit on
top of the base branch whose tree is what gitmig writes for that step, so a reviewer
sees when someone changed it. It reads the local repository only: fetch the base
branch and REF first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&opts.StepBranch, "step-branch", "", "check that `REF`, a gitmig step pull request's branch or head commit, is exactly the step gitmig writes")
	return cmd
}

// Run verifies the tree and prints the findings.
func Run(ctx context.Context, opts *Options) error {
	if err := cmdutil.Output(opts.Output, "text", "json"); err != nil {
		return err
	}
	if opts.StepBranch != "" {
		return runStepBranch(cmdutil.Context(ctx), opts)
	}
	model, err := opts.Globals.Model(cmdutil.Context(ctx), opts.Streams)
	if err != nil {
		return err
	}
	findings := verify.Verify(model)
	// Warnings go to stderr and leave the exit code alone: stdout stays the findings.
	warnings, err := verify.PruneWarnings(model.Tree, model.Config)
	if err != nil {
		warnings = append(warnings, verify.Warning{Note: true, Message: err.Error()})
	}
	for _, w := range warnings {
		fmt.Fprintln(opts.Streams.Err, w)
	}
	if opts.Output == "json" {
		if findings == nil {
			findings = []verify.Finding{}
		}
		enc := json.NewEncoder(opts.Streams.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"findings": findings}); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(opts.Streams.Out, f)
		}
	}
	if len(findings) > 0 {
		return fmt.Errorf("verify: %d problem(s) found", len(findings))
	}
	if opts.Output == "text" {
		fmt.Fprintf(opts.Streams.Out, "ok: %d clusters build, every service is reachable\n", len(model.Clusters()))
	}
	return nil
}
