package gitops

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/step"
)

// Title is a step pull request's title: gitmig: move S A→B [n/4 name].
func Title(rec *record.Record, s step.Step) string {
	return fmt.Sprintf("gitmig: move %s %s→%s [%s %s]", rec.Spec.Service, rec.Spec.From, rec.Spec.To, s.Of(), s.Name())
}

func commitMessage(rec *record.Record, s step.Step) string {
	return fmt.Sprintf("%s\n\n%s\n\nMigration: %s\nStep: %s\n", Title(rec, s), stepSummary(rec, s), rec.ID(), s)
}

// stepSummary says in one sentence what a step does.
func stepSummary(rec *record.Record, st step.Step) string {
	s, from, to := rec.Spec.Service, rec.Spec.From, rec.Spec.To
	switch st {
	case step.Deploy:
		return fmt.Sprintf("Deploy %s in %s next to the copy in %s, which keeps serving.", s, to, from)
	case step.Route:
		return fmt.Sprintf("Route %s's in-cluster names through %s's Traefik to its copy there.", s, to)
	case step.Flip:
		return fmt.Sprintf("Turn %s's Service in %s into an ExternalName to %s's ingress: clients in %s now reach %s.", s, from, to, from, to)
	case step.Cleanup:
		return fmt.Sprintf("Remove %s's Deployment from %s, keeping its ExternalName Service and Namespace.", s, from)
	}
	return ""
}

// gateSummary says what gitmig waits for after a step merges, before the next one
// opens: the gates gitmig.yaml configures (see Gate), no more and no less.
func gateSummary(cfg *config.Config, rec *record.Record, st step.Step) string {
	s, from, to := rec.Spec.Service, rec.Spec.From, rec.Spec.To
	cluster := st.Cluster(from, to)
	g := cfg.GitOps
	var waits []string
	switch g.Engine {
	case config.EngineArgoCD:
		waits = append(waits, fmt.Sprintf("Argo CD's Application %s/%s synced to the merge commit (or a later one) and Healthy", g.ArgoCD.Namespace, g.ArgoCD.Applications[cluster]))
	case config.EngineFlux:
		waits = append(waits, fmt.Sprintf("Flux's Kustomization %s/%s reconciled at the merge commit (or a later one) and Ready", g.Flux.Namespace, g.Flux.Kustomizations[cluster]))
	default:
		waits = append(waits, "nothing waits for Argo CD or Flux (gitops.engine is none): the merge counts as applied")
	}
	access, checked := g.Workloads[cluster]
	via := "its API server"
	if access.Prometheus {
		via = "kube-state-metrics in Prometheus"
	}
	switch {
	case !checked:
		waits = append(waits, fmt.Sprintf("%s's workloads are not checked (no gitops.workloads.%s)", cluster, cluster))
	case st == step.Deploy:
		waits = append(waits, fmt.Sprintf("%s's Deployment rolled out in %s, read through %s", s, to, via))
	case st == step.Route:
		waits = append(waits, fmt.Sprintf("the Traefik routes to %s in %s, read through %s", s, to, via))
	case st == step.Flip:
		waits = append(waits, fmt.Sprintf("%s's Service in %s an ExternalName to %s, read through %s", s, from, to, via))
	case st == step.Cleanup:
		waits = append(waits, fmt.Sprintf("%s's pods gone from %s, read through %s", s, from, via))
	}
	if st == step.Route && cfg.Policy.RouteSettle.Duration > 0 {
		waits = append(waits, fmt.Sprintf("%s (policy.routeSettle) since the route applied, for Traefik to load it", cfg.Policy.RouteSettle.Duration))
	}
	if st == step.Flip {
		drain := fmt.Sprintf("%s (policy.drain) since the flip applied", cfg.Policy.Drain.Duration)
		if cfg.Policy.Queries.RequestRate != "" {
			drain += fmt.Sprintf(", and the requests to %s in %s below policy.idleRate", s, from)
		}
		waits = append(waits, drain)
	}
	summary := strings.Join(waits, "; ") + "."
	if st == step.Cleanup {
		summary += " Then the migration is Completed."
	}
	return summary
}

// rollbackSummary says how to undo a step once merged.
func rollbackSummary(rec *record.Record, st step.Step) string {
	s, from := rec.Spec.Service, rec.Spec.From
	switch st {
	case step.Deploy, step.Route:
		return fmt.Sprintf("Revert this pull request's merge commit. %s keeps serving %s throughout, so this is always safe.", from, s)
	case step.Flip:
		return fmt.Sprintf("Revert this pull request's merge commit: %s's Service selects its own pods again, which are still running.", from)
	default:
		return fmt.Sprintf("Revert the merge commits of steps 4 and then 3: %s's Deployment comes back, then its Service points at it again. Wait for its pods before reverting step 3.", s)
	}
}

// BodyInput is what a step pull request's description is made from.
type BodyInput struct {
	Config *config.Config
	Record *record.Record
	Step   step.Step
	// Change carries the fleet before and after the step.
	Change       *render.Change
	Preview      *render.Preview
	PullRequests map[step.Step]forge.PullRequest
}

// Body writes a step pull request's description: what and why, the checklist of steps,
// what changes per cluster, a diagram of where the service runs, the next gate, how to
// roll back, and the decision's evidence.
func Body(in BodyInput) string {
	var b strings.Builder
	rec, this := in.Record, in.Step
	fmt.Fprintf(&b, "## Move `%s` (namespace `%s`) from %s to %s: step %s, %s\n\n", rec.Spec.Service, rec.Spec.Namespace, rec.Spec.From, rec.Spec.To, this.Of(), this.Name())
	fmt.Fprintf(&b, "%s\n\n", stepSummary(rec, this))
	fmt.Fprintf(&b, "Migration `%s`, decided %s by %s: %s\n\n", rec.ID(), rec.Spec.DecidedAt.UTC().Format("2006-01-02 15:04 MST"), rec.Spec.DecidedBy, rec.Spec.Reason)
	if refused := rec.Spec.PolicyOverridden; len(refused) > 0 {
		b.WriteString("> [!CAUTION]\n> **Started with `--force`, over policy.** Policy refused this move:\n")
		for _, r := range refused {
			fmt.Fprintf(&b, "> - %s\n", r)
		}
		b.WriteString("\n")
	}

	b.WriteString("### Steps\n\n")
	for _, s := range step.All() {
		mark, note := " ", ""
		if pr, ok := in.PullRequests[s]; ok {
			note = fmt.Sprintf(" — [#%d](%s) %s", pr.Number, pr.URL, pr.State)
			if pr.State == forge.StateMerged {
				mark = "x"
			}
		}
		if s == this {
			note = " — this pull request"
		}
		fmt.Fprintf(&b, "- [%s] %d %s (%s): %s%s\n", mark, int(s), s.Name(), s.Cluster(rec.Spec.From, rec.Spec.To), stepSummary(rec, s), note)
	}

	if in.Preview != nil {
		fmt.Fprintf(&b, "\n### What changes in %s\n\n", in.Preview.Change.Cluster)
		b.WriteString("| | file |\n|---|---|\n")
		for _, f := range in.Preview.Files {
			fmt.Fprintf(&b, "| %s | `%s` |\n", f.Status, f.Path)
		}
		b.WriteString("\n| rendered object | |\n|---|---|\n")
		for _, o := range in.Preview.Objects {
			fmt.Fprintf(&b, "| `%s` | %s |\n", o.Ref, o.Action)
		}
		b.WriteString("\n<details><summary>Rendered diff</summary>\n\n```diff\n")
		for _, o := range in.Preview.Objects {
			b.WriteString(o.Diff)
		}
		b.WriteString("```\n\n</details>\n")
	}

	if diagram := placementDiagram(in); diagram != "" {
		fmt.Fprintf(&b, "\n### Where %s runs\n\n%s", rec.Spec.Service, diagram)
	}

	fmt.Fprintf(&b, "\n### Before the next step\n\nAfter this merges, gitmig waits for: %s\n", gateSummary(in.Config, rec, this))
	fmt.Fprintf(&b, "\n### Rolling back\n\n%s\n", rollbackSummary(rec, this))
	if rec.Spec.Evidence != "" {
		fmt.Fprintf(&b, "\n<details><summary>Why gitmig decided this</summary>\n\n%s\n</details>\n", rec.Spec.Evidence)
	}
	fmt.Fprintf(&b, "\n---\nRecord: `%s` · opened by gitmig\n", record.Path(rec.ID()))
	return b.String()
}

// placementDiagram draws, as a Mermaid flowchart, how the service resolves in the two
// clusters of the migration before and after the step.
func placementDiagram(in BodyInput) string {
	if in.Change == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("```mermaid\nflowchart LR\n")
	for _, phase := range []struct {
		key, label string
		model      *fleet.Model
	}{{"before", "Before", in.Change.Before}, {"after", "After", in.Change.After}} {
		fmt.Fprintf(&b, "  subgraph %s[\"%s step %d\"]\n", phase.key, phase.label, int(in.Step))
		for _, cluster := range []string{in.Record.Spec.From, in.Record.Spec.To} {
			fmt.Fprintf(&b, "    %s_%s[\"%s: %s\"]\n", phase.key, cluster, cluster, describe(phase.model, in.Config, in.Record, cluster))
		}
		for _, cluster := range []string{in.Record.Spec.From, in.Record.Spec.To} {
			if target := externalNameTarget(phase.model, in.Config, in.Record, cluster); target != "" {
				fmt.Fprintf(&b, "    %s_%s -->|ExternalName| %s_%s\n", phase.key, cluster, phase.key, target)
			}
		}
		b.WriteString("  end\n")
	}
	b.WriteString("```\n")
	return b.String()
}

// describe says what a cluster's build holds of the service.
func describe(m *fleet.Model, cfg *config.Config, rec *record.Record, cluster string) string {
	var parts []string
	svc := config.Service{Name: rec.Spec.Service, Namespace: rec.Spec.Namespace}
	if slices.Contains(m.Running(svc), cluster) {
		parts = append(parts, "runs "+rec.Spec.Service)
	}
	if slices.Contains(m.RoutedIn(svc), cluster) {
		parts = append(parts, "routes it")
	}
	if target := externalNameTarget(m, cfg, rec, cluster); target != "" {
		parts = append(parts, "ExternalName to "+target)
	}
	if len(parts) == 0 {
		return "no " + rec.Spec.Service
	}
	return strings.Join(parts, ", ")
}

// externalNameTarget is the cluster the service's ExternalName in cluster points at.
func externalNameTarget(m *fleet.Model, cfg *config.Config, rec *record.Record, cluster string) string {
	b := m.Build(cluster)
	if b == nil {
		return ""
	}
	obj, ok := b.Service(rec.Spec.Namespace, rec.Spec.Service)
	if !ok || !obj.Service.IsExternalName() {
		return ""
	}
	target, ok := cfg.ClusterByDNSName(obj.Service.ExternalName)
	if !ok {
		return obj.Service.ExternalName
	}
	return target.Name
}

// Describe says in a few words what a cluster's build runs: its services, and the
// ExternalNames that send a service elsewhere.
func Describe(m *fleet.Model, cfg *config.Config, cluster string) string {
	var running, aliases []string
	for _, svc := range cfg.Services {
		rec := &record.Record{Spec: record.Spec{Service: svc.Name, Namespace: svc.Namespace}}
		if slices.Contains(m.Running(svc), cluster) {
			running = append(running, svc.Name)
		}
		if target := externalNameTarget(m, cfg, rec, cluster); target != "" {
			aliases = append(aliases, fmt.Sprintf("%s→%s", svc.Name, target))
		}
	}
	parts := []string{"runs " + orNothing(running)}
	if len(aliases) > 0 {
		parts = append(parts, "ExternalName "+strings.Join(aliases, ", "))
	}
	return strings.Join(parts, "; ")
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
