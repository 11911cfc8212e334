// Package present draws what gitmig computes for the people who read it: a plan as a
// table at a terminal, as JSON, or as the Markdown evidence pull requests carry; and
// a pass or the status of every migration as a table, JSON, or the Markdown summary a
// GitHub Actions job shows.
package present

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/text"
)

// PlanJSON writes the plan as JSON (decide.Plan's fields), indented, with a final
// newline.
func PlanJSON(w io.Writer, p decide.Plan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Reasons compare numbers with < and >; keep them readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	return nil
}

// PlanTable writes the plan for a person at a terminal: the decisions and their
// reasons first, then the candidates, the clusters and the services that stay.
func PlanTable(w io.Writer, p decide.Plan) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(p.Decisions) == 0 {
		fmt.Fprintf(tw, "NO MIGRATION\t%s\n", noDecisionSummary(p))
	}
	for _, d := range p.Decisions {
		fmt.Fprintf(tw, "MOVE\t%s (%s) %s → %s\n", d.Service, d.Namespace, d.From, d.To)
		fmt.Fprintf(tw, "REASON\t%s\n", d.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, d := range p.Decisions {
		fmt.Fprintf(w, "\nCANDIDATES FOR %s\n", d.Service)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CLUSTER\tFEASIBLE\tSCORE\tWHY")
		for _, c := range d.Candidates {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Cluster, yesNo(c.Feasible), score(c), c.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nCLUSTERS AT %s\n", p.EvaluatedAt.Format(time.RFC3339))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tCPU USED/CAPACITY\tCPU UTIL\tMEMORY USED/CAPACITY\tMEMORY UTIL\tWHY")
	for _, c := range p.Clusters {
		if c.State == decide.StateUnknown {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t%s\n", c.Name, c.State, c.Why)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s/%s\t%s\n", c.Name, c.State,
			text.Cores(c.CPU.Used), text.Cores(c.CPU.Capacity), text.Ratio(c.CPU.Utilization),
			text.Bytes(c.Memory.Used), text.Bytes(c.Memory.Capacity), text.Ratio(c.Memory.Utilization))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintln(w, "\nSTAYING")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SERVICE\tREASON")
		for _, s := range p.Skipped {
			fmt.Fprintf(tw, "%s\t%s\n", s.Service, s.Reason)
		}
		return tw.Flush()
	}
	return nil
}

// noDecisionSummary says in one line why nothing moves.
func noDecisionSummary(p decide.Plan) string {
	var overloaded, unknown []string
	for _, c := range p.Clusters {
		switch c.State {
		case decide.StateOverloaded:
			overloaded = append(overloaded, c.Name)
		case decide.StateUnknown:
			unknown = append(unknown, c.Name)
		}
	}
	var parts []string
	if len(overloaded) > 0 {
		parts = append(parts, fmt.Sprintf("%s Overloaded but no service can move now (see STAYING)", strings.Join(overloaded, ", ")))
	} else {
		parts = append(parts, "no cluster is Overloaded and no service needs to move back")
	}
	if len(unknown) > 0 {
		parts = append(parts, fmt.Sprintf("%s Unknown, which never triggers a move", strings.Join(unknown, ", ")))
	}
	return strings.Join(parts, "; ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func score(c decide.Candidate) string {
	if !c.Feasible {
		return "-"
	}
	return fmt.Sprintf("%.2f", c.Score)
}

// PlanMarkdown writes the evidence block that migration pull requests carry: the
// decisions with their candidates, the clusters' utilisation against the thresholds,
// the PromQL that produced the numbers, and why the other services stay. snap may be
// nil when the queries are not at hand.
func PlanMarkdown(w io.Writer, p decide.Plan, snap *metrics.Snapshot, policy config.Policy) error {
	var b strings.Builder
	b.WriteString("### gitmig plan\n\n")
	if len(p.Decisions) == 0 {
		fmt.Fprintf(&b, "No migration: %s.\n\n", noDecisionSummary(p))
	}
	for _, d := range p.Decisions {
		fmt.Fprintf(&b, "**Move `%s` (namespace `%s`) from `%s` to `%s`.**\n\n%s\n\n", d.Service, d.Namespace, d.From, d.To, text.Cell(d.Reason))
		fmt.Fprintf(&b, "#### Candidates for %s\n\n| Cluster | Feasible | Score | Why |\n|---|---|---:|---|\n", d.Service)
		for _, c := range d.Candidates {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.Cluster, yesNo(c.Feasible), score(c), text.Cell(c.Why))
		}
		b.WriteString("\n")
	}
	window := policy.Sustain.Duration
	if snap != nil {
		window = snap.Sustain.Duration
	}
	fmt.Fprintf(&b, "#### Clusters at %s\n\n", p.EvaluatedAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "Sustained usage is the minimum over %s. Overload above cpu %s, memory %s; a destination must stay within target cpu %s, memory %s.\n\n",
		model.Duration(window), text.Ratio(policy.Overload.CPU), text.Ratio(policy.Overload.Memory), text.Ratio(policy.Target.CPU), text.Ratio(policy.Target.Memory))
	b.WriteString("| Cluster | State | CPU used / capacity | CPU | Memory used / capacity | Memory |\n|---|---|---:|---:|---:|---:|\n")
	for _, c := range p.Clusters {
		if c.State == decide.StateUnknown {
			fmt.Fprintf(&b, "| %s | Unknown: %s | - | - | - | - |\n", c.Name, text.Cell(c.Why))
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s / %s | %s | %s / %s | %s |\n", c.Name, c.State,
			text.Cores(c.CPU.Used), text.Cores(c.CPU.Capacity), text.Ratio(c.CPU.Utilization),
			text.Bytes(c.Memory.Used), text.Bytes(c.Memory.Capacity), text.Ratio(c.Memory.Utilization))
	}
	if snap != nil && len(snap.Queries) > 0 {
		source := ""
		if snap.Source != "" {
			source = " against " + snap.Source
		}
		fmt.Fprintf(&b, "\n#### PromQL\n\nEvaluated at %s%s.\n\n", snap.EvaluatedAt.UTC().Format(time.RFC3339), source)
		for _, q := range snap.Queries {
			fmt.Fprintf(&b, "%s:\n```promql\n%s\n```\n", q.Name, q.PromQL)
		}
	}
	if len(p.Skipped) > 0 {
		b.WriteString("\n#### Staying\n\n| Service | Reason |\n|---|---|\n")
		for _, s := range p.Skipped {
			fmt.Fprintf(&b, "| %s | %s |\n", s.Service, text.Cell(s.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
