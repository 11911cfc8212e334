package present

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
)

// StatusJSON writes {"migrations": [...], "invalid": [...]}, the schema of `gitmig
// status -o json`; invalid lists the record files gitmig cannot use.
func StatusJSON(w io.Writer, rep *report.Report) error {
	migrations := rep.Migrations
	if migrations == nil {
		migrations = []report.MigrationStatus{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Migrations []report.MigrationStatus `json:"migrations"`
		Invalid    []record.Invalid         `json:"invalid,omitempty"`
	}{migrations, rep.Invalid})
}

// StatusTable writes one aligned line per migration, then the record files gitmig
// cannot use.
func StatusTable(w io.Writer, rep *report.Report) error {
	for _, r := range rep.Invalid {
		fmt.Fprintf(w, "INVALID RECORD %s (ignored, holds no slot): %s\n", r.File, text.OneLine(r.Problem))
	}
	if len(rep.Migrations) == 0 {
		_, err := fmt.Fprintln(w, "No migrations.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tSERVICE\tFROM\tTO\tSTEP\tSTATUS\tPULL REQUESTS\tWAITING FOR")
	for _, m := range rep.Migrations {
		var prs []string
		for _, pr := range m.PullRequests {
			prs = append(prs, fmt.Sprintf("#%d %s", pr.Number, pr.State))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Service, m.From, m.To, step.Step(m.Step).Of(), m.Status,
			orDash(strings.Join(prs, ", ")), orDash(text.Printable(waiting(m))))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range rep.Migrations {
		if len(m.PolicyOverridden) > 0 {
			fmt.Fprintf(w, "%s was started with --force over policy, which refused: %s\n", m.ID, text.Printable(strings.Join(m.PolicyOverridden, "; ")))
		}
	}
	return nil
}

// Pass writes what a pass did, then the status of every migration.
func Pass(w io.Writer, rep *report.Report) error {
	fmt.Fprintf(w, "Pass at %s\n", short(rep.Head))
	for _, a := range rep.Actions {
		prefix := ""
		if a.DryRun {
			prefix = "would "
		}
		fmt.Fprintf(w, "  %s%s %s: %s\n", prefix, a.Kind, a.Migration, text.Printable(a.Detail))
	}
	if len(rep.Actions) == 0 {
		fmt.Fprintln(w, "  nothing to do")
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", text.Printable(n))
	}
	if rep.Plan != nil && len(rep.Plan.Decisions) == 0 {
		fmt.Fprintln(w, "  plan: no service needs to move")
	}
	return StatusTable(w, rep)
}

// waiting is what a migration waits for, or, once it has ended, how.
func waiting(m report.MigrationStatus) string {
	if m.WaitingFor != "" {
		return m.WaitingFor
	}
	return m.Message
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
