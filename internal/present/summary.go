package present

import (
	"fmt"
	"io"
	"strings"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/text"
)

// Summary writes a pass as Markdown, as a GitHub Actions job shows it: the pass's outcome, the clusters and decisions
// of its plan, the migrations with their gates, the actions taken and the notes.
// rep may be nil when the pass failed before reading anything; dryRun marks a pass
// that only said what it would do.
func Summary(w io.Writer, rep *report.Report, dryRun bool, passErr error) error {
	var b strings.Builder
	if rep == nil {
		rep = &report.Report{}
	}
	title := "gitmig reconcile"
	if rep.Head != "" {
		title += " at `" + short(rep.Head) + "`"
	}
	if dryRun {
		title += " (dry run)"
	}
	fmt.Fprintf(&b, "## %s\n\n", title)
	if passErr != nil {
		fmt.Fprintf(&b, "> [!CAUTION]\n> The pass failed: %s\n\n", text.OneLine(passErr.Error()))
	}
	writePlan(&b, rep.Plan)
	writeMigrations(&b, rep.Migrations)
	writeActions(&b, rep.Actions)
	if len(rep.Invalid) > 0 {
		b.WriteString("### Records gitmig cannot use\n\nThey are ignored and hold no slot of `policy.maxConcurrent`.\n\n")
		text.Table(&b, []string{"File", "Problem"}, func(row func(...string)) {
			for _, r := range rep.Invalid {
				row(r.File, r.Problem)
			}
		})
	}
	if len(rep.Notes) > 0 {
		b.WriteString("### Notes\n\n")
		for _, n := range rep.Notes {
			fmt.Fprintf(&b, "- %s\n", text.OneLine(n))
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
	text.Table(b, []string{"Cluster", "State", "Sustained cpu", "Sustained memory"}, func(row func(...string)) {
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
		text.Table(b, []string{"Service", "From", "To", "Reason", "Candidates"}, func(row func(...string)) {
			for _, d := range plan.Decisions {
				row(d.Service, d.From, d.To, d.Reason, candidates(d.Candidates))
			}
		})
	}
	if len(plan.Skipped) > 0 {
		// Every service that stays has a reason; folded, since a large fleet has many.
		fmt.Fprintf(b, "<details><summary>%d service(s) stay where they are</summary>\n\n", len(plan.Skipped))
		text.Table(b, []string{"Service", "Reason"}, func(row func(...string)) {
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
	return fmt.Sprintf("%.1f%% (%.2f / %.4g %s)", 100*u.Utilization, u.Sustained/scale, u.Capacity/scale, unit)
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

func writeMigrations(b *strings.Builder, migrations []report.MigrationStatus) {
	b.WriteString("### Migrations\n\n")
	if len(migrations) == 0 {
		b.WriteString("No migrations.\n\n")
		return
	}
	text.Table(b, []string{"Migration", "Service", "Move", "Step", "Status", "Gate", "Waiting for", "Pull requests"}, func(row func(...string)) {
		for _, m := range migrations {
			gateCell := "-"
			if m.Gate != nil {
				gateCell = fmt.Sprintf("step %d: %s", m.Gate.Step, m.Gate.Verdict)
				if m.Gate.Reason != "" {
					gateCell += ", " + m.Gate.Reason
				}
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
			row(m.ID, m.Service, m.From+" → "+m.To, step.Step(m.Step).Of(), m.Status, gateCell, waiting(m), strings.Join(prs, ", "))
		}
	})
}

func writeActions(b *strings.Builder, actions []report.Action) {
	b.WriteString("### Actions\n\n")
	if len(actions) == 0 {
		b.WriteString("Nothing to do.\n\n")
		return
	}
	text.Table(b, []string{"Action", "Migration", "Step", "Detail"}, func(row func(...string)) {
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
