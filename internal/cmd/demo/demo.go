// Package demo implements `gitmig demo`: the whole flow offline on the built-in
// example, in a temporary bare repository with the local forge.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/report"
)

// Options are the inputs of the demo command.
type Options struct {
	Streams cmdutil.Streams
	// Dir holds the demo's repository; a new temporary folder when empty.
	Dir string
}

// NewCmd returns the demo command.
func NewCmd(streams cmdutil.Streams) *cobra.Command {
	opts := &Options{Streams: streams}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a whole migration offline on the built-in example fleet",
		Long: `demo seeds a temporary bare git repository with the example fleet (Magma's orc8r and
agw on an edge cluster, empty fog and cloud clusters), plans from a bundled metrics
snapshot in which edge is overloaded, then opens, merges and reconciles the four pull
requests of moving orc8r to cloud on the local forge, printing each step. The
simulated clock skips the drain wait. Nothing leaves the temporary folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "folder for the demo repository (default: a new temporary folder)")
	return cmd
}

// clock is the demo's simulated time: it stands still unless the demo moves it, so the
// drain wait takes no real time.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// snapshotSource replays the bundled metrics snapshot.
type snapshotSource struct{ snap *metrics.Snapshot }

func (s snapshotSource) Snapshot(context.Context, time.Time) (*metrics.Snapshot, error) {
	return s.snap, nil
}

// maxPasses bounds the demo; four steps need about ten passes.
const maxPasses = 20

// Run plays the whole migration.
func Run(ctx context.Context, opts *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	out := opts.Streams.Out
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "gitmig-demo-"); err != nil {
			return err
		}
	}
	snap, err := metrics.ParseSnapshot(gitmig.ExampleMetrics)
	if err != nil {
		return fmt.Errorf("bundled metrics: %w", err)
	}
	clk := &clock{now: snap.EvaluatedAt}
	remote := filepath.Join(dir, "fleet.git")
	cfg, err := example.Seed(remote, remote, clk.now)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "gitmig demo: moving a service between clusters through pull requests, offline.\n\n")
	fmt.Fprintf(out, "Fleet repository (bare, local forge): %s\n", remote)
	builder := cmdutil.Builder(opts.Streams)
	r, err := gitops.NewReconciler(cfg, dir, func(string) string { return "" }, clk.Now, builder)
	if err != nil {
		return err
	}
	r.Metrics = snapshotSource{snap}
	r.At = snap.EvaluatedAt
	setup, err := gitops.NewSetup(cfg, dir, func(string) string { return "" })
	if err != nil {
		return err
	}
	d := &demo{out: out, setup: setup, clk: clk, cfg: cfg, builder: builder, forge: r.Forge}
	if err := d.printPlacement(ctx, "Before"); err != nil {
		return err
	}
	fmt.Fprintf(out, "Metrics: the bundled snapshot at %s, edge sustained above policy.overload.\n", snap.EvaluatedAt.Format(time.RFC3339))

	var id string
	for pass := 1; pass <= maxPasses; pass++ {
		rep, err := r.Pass(ctx)
		if err != nil {
			return fmt.Errorf("pass %d: %w", pass, err)
		}
		if pass == 1 {
			printDecisions(out, rep)
		}
		for _, a := range rep.Actions {
			if a.Kind == report.ActionCreatePR {
				fmt.Fprintf(out, "\nPass %d opened a pull request: %s\n", pass, a.Detail)
			}
		}
		if len(rep.Migrations) == 0 {
			return fmt.Errorf("pass %d: the plan started no migration", pass)
		}
		m := rep.Migrations[0]
		id = m.ID
		if m.Status == string(record.Completed) {
			fmt.Fprintf(out, "\nPass %d: step 4's gate passed; migration %s is Completed after %d pull requests.\n", pass, id, len(m.PullRequests))
			break
		}
		if err := d.mergeOpen(ctx, m); err != nil {
			return err
		}
		if strings.Contains(m.WaitingFor, "draining") {
			fmt.Fprintf(out, "\nPass %d waits for %s\n  The simulated clock moves on by policy.drain (%s).\n", pass, m.WaitingFor, cfg.Policy.Drain.Duration)
			clk.now = clk.now.Add(cfg.Policy.Drain.Duration)
		}
		clk.now = clk.now.Add(time.Minute)
	}
	if id == "" {
		return fmt.Errorf("no migration after %d passes", maxPasses)
	}
	if err := d.printPlacement(ctx, "After"); err != nil {
		return err
	}
	clone := filepath.Join(dir, "fleet")
	fmt.Fprintf(out, "\nThe repository stays at %s. Look around with\n  git clone %s %s\n  gitmig status --repo %s\n  gitmig pr list --repo %s\n(go run ./cmd/gitmig in place of gitmig, from this repository).\n", remote, remote, clone, clone, clone)
	return nil
}

func printDecisions(out io.Writer, report *report.Report) {
	if report.Plan == nil {
		return
	}
	for _, c := range report.Plan.Clusters {
		fmt.Fprintf(out, "  %-6s %-10s cpu %5.1f%%  memory %5.1f%%\n", c.Name, c.State, 100*c.CPU.Utilization, 100*c.Memory.Utilization)
	}
	for _, d := range report.Plan.Decisions {
		fmt.Fprintf(out, "Decision: move %s from %s to %s: %s\n", d.Service, d.From, d.To, d.Reason)
	}
}

// demo is what the steps of the demo share.
type demo struct {
	out     io.Writer
	setup   *gitops.Setup
	clk     *clock
	cfg     *config.Config
	builder *fleet.Builder
	forge   forge.Forge
}

// mergeOpen merges the migration's open pull request, as a reviewer would.
func (d *demo) mergeOpen(ctx context.Context, m report.MigrationStatus) error {
	for _, pr := range m.PullRequests {
		if pr.State != string(forge.StateOpen) {
			continue
		}
		before, err := d.head(ctx)
		if err != nil {
			return err
		}
		merged, err := d.forge.Merge(ctx, pr.Number, "")
		if err != nil {
			return fmt.Errorf("merging #%d: %w", pr.Number, err)
		}
		fmt.Fprintf(d.out, "  A reviewer merges #%d: merge commit %s\n", merged.Number, merged.MergeCommit[:7])
		if err := d.printChanges(ctx, before, merged.MergeCommit); err != nil {
			return err
		}
		return d.printPlacement(ctx, "  Now")
	}
	return nil
}

func (d *demo) head(ctx context.Context) (string, error) {
	ws, err := d.setup.Clone(d.clk.Now)(ctx)
	if err != nil {
		return "", err
	}
	return ws.Head(), nil
}

// printChanges lists the files a merge changed.
func (d *demo) printChanges(ctx context.Context, before, after string) error {
	ws, err := d.setup.Clone(d.clk.Now)(ctx)
	if err != nil {
		return err
	}
	changes, err := ws.Changes(before, after)
	if err != nil {
		return err
	}
	for _, c := range changes {
		fmt.Fprintf(d.out, "    %s %s\n", c.Status, c.Path)
	}
	return nil
}

// printPlacement says what each cluster runs on the base branch.
func (d *demo) printPlacement(ctx context.Context, label string) error {
	ws, err := d.setup.Clone(d.clk.Now)(ctx)
	if err != nil {
		return err
	}
	t, err := ws.Tree(ws.Head())
	if err != nil {
		return err
	}
	model, err := d.builder.Load(ctx, t, d.cfg)
	if err != nil {
		return err
	}
	cfg, out := d.cfg, d.out
	var parts []string
	for _, cl := range cfg.Clusters {
		parts = append(parts, cl.Name+": "+gitops.Describe(model, cfg, cl.Name))
	}
	fmt.Fprintf(out, "%s: %s\n", label, strings.Join(parts, " | "))
	return nil
}
