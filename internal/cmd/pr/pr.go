// Package pr implements `gitmig pr list | merge N | close N`: what a forge's web UI
// does, for the local forge, which keeps its pull requests in the git remote.
package pr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/text"
)

// Actions of the pr command.
const (
	ActionList  = "list"
	ActionMerge = "merge"
	ActionClose = "close"
)

// Options are the inputs of the pr command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	// Action is list, merge or close.
	Action string
	// Number is the pull request to merge or close.
	Number int
	// Output is list's format: table or json.
	Output string
	// Comment is left on the pull request close closes.
	Comment string
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the pr command and its list, merge and close subcommands.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "pr",
		Short: "List, merge and close the local forge's pull requests",
		Long: `pr stands in for a forge's web UI when gitmig.yaml says gitops.forge: local, where the
pull requests live in the git remote itself (refs/gitmig/forge). With GitHub, use
GitHub's UI.`,
		Args: cobra.NoArgs,
	}
	run := func(action string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts.Action = action
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 {
					return fmt.Errorf("%q is not a pull request number", args[0])
				}
				opts.Number = n
			}
			return Run(cmd.Context(), opts)
		}
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the pull requests, open, merged and closed",
		Args:  cobra.NoArgs,
		RunE:  run(ActionList),
	}
	list.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table or json")
	merge := &cobra.Command{
		Use:   "merge N",
		Short: "Merge pull request N into its base with a merge commit",
		Args:  cobra.ExactArgs(1),
		RunE:  run(ActionMerge),
	}
	closeCmd := &cobra.Command{
		Use:   "close N",
		Short: "Close pull request N without merging it",
		Args:  cobra.ExactArgs(1),
		RunE:  run(ActionClose),
	}
	closeCmd.Flags().StringVar(&opts.Comment, "comment", "", "comment to leave on the pull request, saying why")
	cmd.AddCommand(list, merge, closeCmd)
	return cmd
}

// Run performs opts.Action on the local forge of gitmig.yaml's remote.
func Run(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.Action == ActionList {
		if err := cmdutil.Output(opts.Output, "table", "json"); err != nil {
			return err
		}
	}
	f, err := openForge(opts)
	if err != nil {
		return err
	}
	out := opts.Streams.Out
	switch opts.Action {
	case ActionList:
		db, err := f.Read(ctx)
		if err != nil {
			return err
		}
		if opts.Output == "json" {
			return writeJSON(out, db.Pulls)
		}
		return writeTable(out, db.Pulls, f.Remote())
	case ActionMerge:
		pr, err := f.Merge(ctx, opts.Number, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "merged #%d into %s: %s\n", pr.Number, pr.Base, pr.MergeCommit)
		return nil
	case ActionClose:
		if err := f.Close(ctx, opts.Number, opts.Comment); err != nil {
			return err
		}
		fmt.Fprintf(out, "closed #%d\n", opts.Number)
		return nil
	}
	return fmt.Errorf("unknown pr action %q: use list, merge or close", opts.Action)
}

// openForge opens the local forge on gitmig.yaml's gitops.remote, resolved against the
// repository folder when relative, and gitops.branch.
func openForge(opts *Options) (*local.Forge, error) {
	cfg, err := opts.Globals.LoadConfig()
	if err != nil {
		return nil, err
	}
	if cfg.GitOps.Forge != config.ForgeLocal {
		return nil, fmt.Errorf("gitops.forge is %s: gitmig pr works on the local forge only; use GitHub's UI", cfg.GitOps.Forge)
	}
	setup, err := gitops.NewSetup(cfg, opts.Globals.Repo, opts.Env)
	if err != nil {
		return nil, err
	}
	f, err := setup.Forge(cfg, opts.Now)
	if err != nil {
		return nil, err
	}
	lf, ok := f.(*local.Forge)
	if !ok {
		return nil, fmt.Errorf("gitops.forge local opened a %T", f)
	}
	return lf, nil
}

// writeJSON prints the pull requests as a JSON array.
func writeJSON(w io.Writer, pulls []local.Pull) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(pulls)
}

// writeTable prints one aligned line per pull request.
func writeTable(w io.Writer, pulls []local.Pull, remote string) error {
	if len(pulls) == 0 {
		_, err := fmt.Fprintf(w, "no pull requests on %s\n", remote)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tSTATE\tTITLE\tHEAD")
	for _, p := range pulls {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.Number, p.State, text.Printable(p.Title), text.Printable(p.Head))
	}
	return tw.Flush()
}
