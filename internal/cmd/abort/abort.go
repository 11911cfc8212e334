// Package abort implements `gitmig abort ID`: stop a migration by hand and roll back
// its merged steps by pull request.
package abort

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/step"
)

// Options are the inputs of the abort command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	// ID is the migration to abort.
	ID string
	// By names who aborts; Reason says why. Both go into the record.
	By     string
	Reason string
	Env    gitops.Env
	Now    func() time.Time
}

// NewCmd returns the abort command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "abort ID [--reason TEXT] [--by NAME]",
		Short: "Stop a migration by hand and roll back its merged steps",
		Long: `abort stops migration ID (as gitmig status lists it). It commits the migration's
record with a rollback saying who aborted it and why, closes its open step pull
request and opens the pull request that undoes the newest merged step. Review and
merge the rollback pull requests like the steps: gitmig reconcile opens each after
the previous one is applied, newest first, and the migration ends RolledBack, or
Aborted when no step had merged. Running abort again, or any reconcile pass, carries
an interrupted abort on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why, for the record and the pull requests")
	cmd.Flags().StringVar(&opts.By, "by", "", "who aborts (default $GITHUB_ACTOR, else $USER)")
	return cmd
}

// Run aborts the migration and prints what was done and where it stands.
func Run(ctx context.Context, opts *Options) error {
	ctx = cmdutil.Context(ctx)
	if !step.ValidID(opts.ID) {
		return fmt.Errorf("%q is not a migration id (lowercase letters, digits and dashes, as gitmig status lists them)", opts.ID)
	}
	by := opts.By
	for _, name := range []string{"GITHUB_ACTOR", "USER"} {
		if by == "" {
			by = opts.Env(name)
		}
	}
	if by == "" {
		return fmt.Errorf("say who aborts with --by: neither GITHUB_ACTOR nor USER is set")
	}
	for flag, value := range map[string]string{"--by": by, "--reason": opts.Reason} {
		if strings.ContainsAny(value, "\r\n") {
			return fmt.Errorf("%s must be one line", flag)
		}
	}
	r, _, err := opts.Globals.Reconciler(opts.Streams, opts.Env, opts.Now, nil)
	if err != nil {
		return err
	}
	rep, err := r.Abort(ctx, opts.ID, by, opts.Reason)
	if rep != nil && (err == nil || len(rep.Actions) > 0) {
		if perr := present.Pass(opts.Streams.Out, rep); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}
