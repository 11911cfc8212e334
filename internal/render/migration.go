package render

import (
	"fmt"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/step"
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

// Cluster returns the cluster whose overlay a step edits: the destination for deploy
// and route, the source for flip and cleanup.
func (m Migration) Cluster(s step.Step) config.Cluster {
	if s.EditsDestination() {
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

func (m Migration) metadata(s step.Step, name, namespace string, labels map[string]string) map[string]any {
	l := map[string]any{LabelManagedBy: ManagedByGitmig}
	for k, v := range labels {
		l[k] = v
	}
	annotations := map[string]any{
		AnnotationMigration: m.ID,
		AnnotationStep:      s.String(),
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

// InProgressID returns the id gitmig wrote on the objects of the newest migration of
// service from one cluster to another in the model's builds, or "" when there is none.
func InProgressID(m *fleet.Model, service, from, to string) string {
	prefix := service + "-" + from + "-to-" + to + "-"
	latest := ""
	for _, cluster := range m.Clusters() {
		for _, o := range m.Build(cluster).Objects {
			if id := o.Annotations[AnnotationMigration]; strings.HasPrefix(id, prefix) && id > latest {
				latest = id
			}
		}
	}
	return latest
}

// RepointedBy returns the clusters, sorted, where step 3 of migration id re-pointed an
// ExternalName (Change.Repointed), read from the objects that carry its id and step in
// the model's builds, the source (whose Service the step flipped) aside.
func RepointedBy(m *fleet.Model, id, from string) []string {
	var clusters []string
	for _, cluster := range m.Clusters() {
		if cluster == from {
			continue
		}
		for _, o := range m.Build(cluster).Objects {
			if o.Annotations[AnnotationMigration] == id && o.Annotations[AnnotationStep] == step.Flip.String() &&
				o.Service != nil && o.Service.IsExternalName() {
				clusters = append(clusters, cluster)
				break
			}
		}
	}
	return clusters
}
