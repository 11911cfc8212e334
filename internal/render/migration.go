package render

import (
	"fmt"
	"time"

	"github.com/gitmig/gitmig/internal/config"
)

// Migration is the move of one service from one cluster to another.
type Migration struct {
	// ID is <service>-<from>-to-<to>-<yyyymmdd-hhmm>.
	ID      string
	Service config.Service
	From    config.Cluster
	To      config.Cluster
	// PullRequest is the URL of the step's pull request, when known; Argo CD shows it
	// as a link on every object gitmig writes.
	PullRequest string
}

// MigrationID names a migration decided at a given time.
func MigrationID(service, from, to string, decidedAt time.Time) string {
	return fmt.Sprintf("%s-%s-to-%s-%s", service, from, to, decidedAt.UTC().Format("20060102-1504"))
}

// NewMigration resolves the names of a migration against gitmig.yaml.
func NewMigration(cfg *config.Config, id, service, from, to string) (Migration, error) {
	svc, ok := cfg.Service(service)
	if !ok {
		return Migration{}, fmt.Errorf("unknown service %q: it is not in gitmig.yaml's services", service)
	}
	src, ok := cfg.Cluster(from)
	if !ok {
		return Migration{}, fmt.Errorf("unknown source cluster %q", from)
	}
	dst, ok := cfg.Cluster(to)
	if !ok {
		return Migration{}, fmt.Errorf("unknown destination cluster %q", to)
	}
	if from == to {
		return Migration{}, fmt.Errorf("service %s: source and destination are both %s", service, from)
	}
	return Migration{ID: id, Service: svc, From: src, To: dst}, nil
}

// Step is one of the four steps of a migration.
type Step int

// The four steps, in order.
const (
	StepDeploy Step = iota + 1
	StepRoute
	StepFlip
	StepCleanup
)

// Steps lists the four steps in order.
func Steps() []Step { return []Step{StepDeploy, StepRoute, StepFlip, StepCleanup} }

// Name is the step's short name: deploy, route, flip or cleanup.
func (s Step) Name() string {
	switch s {
	case StepDeploy:
		return "deploy"
	case StepRoute:
		return "route"
	case StepFlip:
		return "flip"
	case StepCleanup:
		return "cleanup"
	}
	return fmt.Sprintf("step%d", int(s))
}

// String is the step as annotations and branches spell it: "1-deploy".
func (s Step) String() string { return fmt.Sprintf("%d-%s", int(s), s.Name()) }

// Valid reports whether s is one of the four steps.
func (s Step) Valid() bool { return s >= StepDeploy && s <= StepCleanup }

// Cluster returns the cluster whose overlay the step edits: the destination for deploy
// and route, the source for flip and cleanup.
func (s Step) Cluster(m Migration) config.Cluster {
	if s <= StepRoute {
		return m.To
	}
	return m.From
}

// Labels and annotations on every object gitmig writes, so the Argo CD UI says which
// migration and step each one came from.
const (
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedByGitmig       = "gitmig"
	AnnotationMigration   = "gitmig.dev/migration"
	AnnotationStep        = "gitmig.dev/step"
	AnnotationPullRequest = "link.argocd.argoproj.io/pull-request"
)

func (m Migration) metadata(step Step, name, namespace string, labels map[string]string) map[string]any {
	l := map[string]any{LabelManagedBy: ManagedByGitmig}
	for k, v := range labels {
		l[k] = v
	}
	annotations := map[string]any{
		AnnotationMigration: m.ID,
		AnnotationStep:      step.String(),
	}
	if m.PullRequest != "" {
		annotations[AnnotationPullRequest] = m.PullRequest
	}
	meta := map[string]any{"name": name, "labels": l, "annotations": annotations}
	if namespace != "" {
		meta["namespace"] = namespace
	}
	return meta
}
