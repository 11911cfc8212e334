// Package status implements `gitmig status`: every migration, its step, its pull
// requests and what it waits for.
package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/step"
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
	cfg, err := opts.Globals.LoadConfig()
	if err != nil {
		return err
	}
	r, err := gitops.NewReconciler(cfg, opts.Globals.Repo, opts.Env, opts.Now, cmdutil.Builder(opts.Streams))
	if err != nil {
		return err
	}
	report, err := r.Status(contextOrBackground(ctx))
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return WriteJSON(opts.Streams.Out, report)
	}
	return WriteTable(opts.Streams.Out, report)
}

func contextOrBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// WriteJSON prints {"migrations": [...]}.
func WriteJSON(w io.Writer, report *gitops.Report) error {
	migrations := report.Migrations
	if migrations == nil {
		migrations = []gitops.MigrationStatus{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Migrations []gitops.MigrationStatus `json:"migrations"`
	}{migrations})
}

// WriteTable prints one aligned line per migration.
func WriteTable(w io.Writer, report *gitops.Report) error {
	if len(report.Migrations) == 0 {
		_, err := fmt.Fprintln(w, "No migrations.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tSERVICE\tFROM\tTO\tSTEP\tSTATUS\tPULL REQUESTS\tWAITING FOR")
	for _, m := range report.Migrations {
		var prs []string
		for _, pr := range m.PullRequests {
			prs = append(prs, fmt.Sprintf("#%d %s", pr.Number, pr.State))
		}
		waiting := m.WaitingFor
		if waiting == "" {
			waiting = m.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Service, m.From, m.To, step.Step(m.Step).Of(), m.Status, orDash(strings.Join(prs, ", ")), orDash(waiting))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
