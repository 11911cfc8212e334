// Package pr implements `gitmig pr list | view N | merge N | close N`: what a forge's
// web UI does, for the local forge, which keeps its pull requests in the git remote.
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
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/text"
)

// Actions of the pr command.
const (
	ActionList  = "list"
	ActionView  = "view"
	ActionMerge = "merge"
	ActionClose = "close"
)

// Options are the inputs of the pr command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	// Action is list, view, merge or close.
	Action string
	// Number is the pull request to view, merge or close.
	Number int
	// Output is list's format, table or json, and view's, text or json.
	Output string
	// Diff makes view show the pull request's changes against its base.
	Diff bool
	// Comment is left on the pull request close closes.
	Comment string
	Env     gitops.Env
	Now     func() time.Time
}

// NewCmd returns the pr command and its list, view, merge and close subcommands.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "pr",
		Short: "List, view, merge and close the local forge's pull requests",
		Long: `pr stands in for a forge's web UI when gitmig.yaml says gitops.forge: local, where the
pull requests live in the git remote itself (refs/gitmig/forge). With GitHub, use
GitHub's UI.`,
		Args: cobra.NoArgs,
	}
	// list and view default to different formats, so each has its own flag variable.
	var listOutput, viewOutput string
	run := func(action string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts.Action = action
			switch action {
			case ActionList:
				opts.Output = listOutput
			case ActionView:
				opts.Output = viewOutput
			}
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
	list.Flags().StringVarP(&listOutput, "output", "o", "table", "output format: table or json")
	view := &cobra.Command{
		Use:   "view N [--diff]",
		Short: "Show pull request N: title, state, description, gitmig/gate status and comments",
		Long: `view shows pull request N as a forge's page would: its title, state, branches,
labels, the commit statuses on its head (gitmig's gate among them), its description
and its comments. With --diff it also shows its changes against its base, as a
unified diff: for a merged pull request, what its merge commit changed.`,
		Args: cobra.ExactArgs(1),
		RunE: run(ActionView),
	}
	view.Flags().BoolVar(&opts.Diff, "diff", false, "also show the changes against the base branch")
	view.Flags().StringVarP(&viewOutput, "output", "o", "text", "output format: text or json")
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
	cmd.AddCommand(list, view, merge, closeCmd)
	return cmd
}

// Run performs opts.Action on the local forge of gitmig.yaml's remote.
func Run(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch opts.Action {
	case ActionList:
		if err := cmdutil.Output(opts.Output, "table", "json"); err != nil {
			return err
		}
	case ActionView:
		if err := cmdutil.Output(opts.Output, "text", "json"); err != nil {
			return err
		}
	}
	f, setup, err := openForge(opts)
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
		return writeTable(out, db, f.Remote())
	case ActionView:
		return view(ctx, opts, f, setup)
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
	return fmt.Errorf("unknown pr action %q: use list, view, merge or close", opts.Action)
}

// openForge opens the local forge on gitmig.yaml's gitops.remote, resolved against the
// repository folder when relative, and gitops.branch; the setup clones the remote.
func openForge(opts *Options) (*local.Forge, *gitops.Setup, error) {
	cfg, err := opts.Globals.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	if cfg.GitOps.Forge != config.ForgeLocal {
		return nil, nil, fmt.Errorf("gitops.forge is %s: gitmig pr works on the local forge only; use GitHub's UI", cfg.GitOps.Forge)
	}
	setup, err := gitops.NewSetup(cfg, opts.Globals.Repo, opts.Env)
	if err != nil {
		return nil, nil, err
	}
	f, err := setup.Forge(cfg, opts.Now)
	if err != nil {
		return nil, nil, err
	}
	lf, ok := f.(*local.Forge)
	if !ok {
		return nil, nil, fmt.Errorf("gitops.forge local opened a %T", f)
	}
	return lf, setup, nil
}

// writeJSON prints the pull requests as a JSON array.
func writeJSON(w io.Writer, pulls []local.Pull) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(pulls)
}

// writeTable prints one aligned line per pull request, with the state of gitmig's gate
// status on its head under CHECKS ("-" when it has none).
func writeTable(w io.Writer, db *local.Database, remote string) error {
	if len(db.Pulls) == 0 {
		_, err := fmt.Fprintf(w, "no pull requests on %s\n", remote)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NUMBER\tSTATE\tCHECKS\tTITLE\tHEAD")
	for _, p := range db.Pulls {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.Number, p.State, gateState(db.StatusesOf(p.HeadSHA)), text.Printable(p.Title), text.Printable(p.Head))
	}
	return tw.Flush()
}

// gateState is the state of the gitmig/gate status among statuses, "-" when absent.
func gateState(statuses []forge.Status) string {
	for _, st := range statuses {
		if st.Context == gitops.GateContext {
			return string(st.State)
		}
	}
	return "-"
}
