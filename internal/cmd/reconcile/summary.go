package reconcile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/step"
)

// StepSummaryEnv names the file a GitHub Actions step appends Markdown to, shown on the
// run's summary page.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// appendSummary appends the pass's Markdown summary to the file that StepSummaryEnv
// names in env; it does nothing when the variable is unset, as outside GitHub Actions.
func appendSummary(env gitops.Env, report *gitops.Report, dryRun bool, passErr error) error {
	if env == nil {
		return nil
	}
	path := env(StepSummaryEnv)
	if path == "" {
		return nil
	}
	// Append: other steps of the job write to the same file, and an --interval loop
	// adds one section per pass.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("writing the step summary (%s): %w", StepSummaryEnv, err)
	}
	werr := WriteSummary(f, report, dryRun, passErr)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("writing the step summary %s: %w", path, err)
	}
	return nil
}

// WriteSummary writes a pass as Markdown: the pass's outcome, the clusters and decisions
// of its plan, the migrations with their gates, the actions taken and the notes.
// report may be nil when the pass failed before reading anything; dryRun marks a pass
// that only said what it would do.
func WriteSummary(w io.Writer, report *gitops.Report, dryRun bool, passErr error) error {
	var b strings.Builder
	if report == nil {
		report = &gitops.Report{}
	}
	title := "gitmig reconcile"
	if report.Head != "" {
		title += " at `" + short(report.Head) + "`"
	}
	if dryRun {
		title += " (dry run)"
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	if passErr != nil {
		fmt.Fprintf(&b, "> [!CAUTION]\n> The pass failed: %s\n\n", oneLine(passErr.Error()))
	}
	writePlan(&b, report.Plan)
	writeMigrations(&b, report.Migrations)
	writeActions(&b, report.Actions)
	if len(report.Notes) > 0 {
		b.WriteString("### Notes\n\n")
		for _, n := range report.Notes {
			fmt.Fprintf(&b, "- %s\n", oneLine(n))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writePlan(b *strings.Builder, plan *decide.Plan) {
	if plan == nil {
		// A pass plans only while fewer than maxConcurrent migrations are in flight.
		b.WriteString("### Plan\n\nNo plan this pass: migrations in flight use every slot of `policy.maxConcurrent`, or no metrics source is set.\n\n")
		return
	}
	fmt.Fprintf(b, "### Clusters\n\nMetrics evaluated at %s.\n\n", plan.EvaluatedAt.UTC().Format("2006-01-02 15:04:05Z"))
	table(b, []string{"Cluster", "State", "CPU", "Memory"}, func(row func(...string)) {
		for _, c := range plan.Clusters {
			state := c.State
			if c.Why != "" {
				state += ": " + c.Why
			}
			row(c.Name, state, utilization(c.CPU, "cores", 1), utilization(c.Memory, "Gi", 1<<30))
		}
	})
	b.WriteString("### Decisions\n\n")
	if len(plan.Decisions) == 0 {
		b.WriteString("No service needs to move.\n\n")
	} else {
		table(b, []string{"Service", "From", "To", "Reason", "Candidates"}, func(row func(...string)) {
			for _, d := range plan.Decisions {
				row(d.Service, d.From, d.To, d.Reason, candidates(d.Candidates))
			}
		})
	}
	if len(plan.Skipped) > 0 {
		// Every service that stays has a reason; folded, since a large fleet has many.
		fmt.Fprintf(b, "<details><summary>%d service(s) stay where they are</summary>\n\n", len(plan.Skipped))
		table(b, []string{"Service", "Reason"}, func(row func(...string)) {
			for _, s := range plan.Skipped {
				row(s.Service, s.Reason)
			}
		})
		b.WriteString("</details>\n\n")
	}
}

// utilization formats one resource as "89.0% (7.12 / 8 cores)"; "-" without data.
func utilization(u decide.Utilization, unit string, scale float64) string {
	if u.Capacity == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%.2f / %.4g %s)", 100*u.Utilization, u.Used/scale, u.Capacity/scale, unit)
}

func candidates(cs []decide.Candidate) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		if c.Feasible {
			parts = append(parts, fmt.Sprintf("%s %.1f", c.Cluster, c.Score))
		} else {
			parts = append(parts, c.Cluster+" infeasible")
		}
	}
	return strings.Join(parts, ", ")
}

func writeMigrations(b *strings.Builder, migrations []gitops.MigrationStatus) {
	b.WriteString("### Migrations\n\n")
	if len(migrations) == 0 {
		b.WriteString("No migrations.\n\n")
		return
	}
	table(b, []string{"Migration", "Service", "Move", "Step", "Status", "Gate", "Waiting for", "Pull requests"}, func(row func(...string)) {
		for _, m := range migrations {
			gateCell := "-"
			if m.Gate != nil {
				gateCell = fmt.Sprintf("step %d: %s", m.Gate.Step, m.Gate.Verdict)
				if m.Gate.Reason != "" {
					gateCell += ", " + m.Gate.Reason
				}
			}
			waiting := m.WaitingFor
			if waiting == "" {
				waiting = m.Message
			}
			var prs []string
			for _, pr := range m.PullRequests {
				link := fmt.Sprintf("#%d", pr.Number)
				// The local forge's URLs are paths, which no browser opens from the summary.
				if strings.HasPrefix(pr.URL, "https://") || strings.HasPrefix(pr.URL, "http://") {
					link = fmt.Sprintf("[#%d](%s)", pr.Number, pr.URL)
				}
				prs = append(prs, link+" "+pr.State)
			}
			row(m.ID, m.Service, m.From+" → "+m.To, step.Step(m.Step).Of(), m.Status, gateCell, waiting, strings.Join(prs, ", "))
		}
	})
}

func writeActions(b *strings.Builder, actions []gitops.Action) {
	b.WriteString("### Actions\n\n")
	if len(actions) == 0 {
		b.WriteString("Nothing to do.\n\n")
		return
	}
	table(b, []string{"Action", "Migration", "Step", "Detail"}, func(row func(...string)) {
		for _, a := range actions {
			kind := string(a.Kind)
			if a.DryRun {
				kind = "would " + kind
			}
			step := ""
			if a.Step > 0 {
				step = fmt.Sprint(a.Step)
			}
			row(kind, a.Migration, step, a.Detail)
		}
	})
}

// table writes a Markdown table; rows adds one row per call.
func table(b *strings.Builder, header []string, rows func(row func(...string))) {
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + cell(c) + " |")
		}
		b.WriteString("\n")
	}
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	b.WriteString("|" + strings.Join(sep, "|") + "|\n")
	rows(func(cells ...string) { line(cells) })
	b.WriteString("\n")
}

// cell makes text safe inside a table cell: a pipe would end the cell, a newline the
// row, and "<" could open an HTML tag.
func cell(s string) string {
	s = strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(oneLine(s))
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " ")
}
