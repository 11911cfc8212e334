package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/step"
)

// Metrics is what the Prometheus-backed checks ask of Prometheus;
// *prometheus.Source answers it.
type Metrics interface {
	// Gauge sums a query at one time; found is false when it matched no series.
	Gauge(ctx context.Context, field, promql string, at time.Time) (value float64, found bool, err error)
	// Samples sums a query at n times, step apart, ending at end, oldest first.
	Samples(ctx context.Context, field, promql string, end time.Time, step time.Duration, n int) ([]float64, error)
}

// PrometheusWorkloads checks, through kube-state-metrics, the clusters whose
// gitops.workloads entry says prometheus: the Deployment available in the destination
// after deploy, and no available replica left in the source after cleanup.
type PrometheusWorkloads struct {
	Metrics  Metrics
	Clusters map[string]bool
	Queries  config.Queries
}

// Check looks at the step's cluster, when it is one of Clusters.
func (p PrometheusWorkloads) Check(ctx context.Context, req Request) (Result, error) {
	if !p.Clusters[req.Cluster] || req.Undo {
		return Passed("%s's workloads not checked through Prometheus", req.Cluster), nil
	}
	target := config.QueryTarget{Cluster: req.Cluster, Namespace: req.Namespace, Service: req.Service}
	gauge := func(field, text string) (float64, bool, error) {
		promql, err := config.Query(text, target)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %w", field, err)
		}
		return p.Metrics.Gauge(ctx, field, promql, req.Now)
	}
	switch req.Step {
	case step.Deploy:
		available, foundAvailable, err := gauge("policy.queries.replicasAvailable", p.Queries.ReplicasAvailable)
		if err != nil {
			return Waiting("Prometheus: %v", err), nil
		}
		desired, foundDesired, err := gauge("policy.queries.replicasDesired", p.Queries.ReplicasDesired)
		if err != nil {
			return Waiting("Prometheus: %v", err), nil
		}
		if !foundAvailable || !foundDesired {
			return Waiting("kube-state-metrics reports no Deployment %s/%s in %s yet", req.Namespace, req.Service, req.Cluster), nil
		}
		if desired == 0 || available < desired {
			return Waiting("Deployment %s/%s in %s: %g of %g replicas available (kube-state-metrics)", req.Namespace, req.Service, req.Cluster, available, desired), nil
		}
		return Passed("Deployment %s/%s available in %s (%g/%g, kube-state-metrics)", req.Namespace, req.Service, req.Cluster, available, desired), nil
	case step.Cleanup:
		available, found, err := gauge("policy.queries.replicasAvailable", p.Queries.ReplicasAvailable)
		if err != nil {
			return Waiting("Prometheus: %v", err), nil
		}
		if found && available > 0 {
			return Waiting("%g replicas of %s still available in %s (kube-state-metrics)", available, req.Service, req.Cluster), nil
		}
		return Passed("no replica of %s left in %s (kube-state-metrics)", req.Service, req.Cluster), nil
	}
	return Passed("step %d is not measured through kube-state-metrics", int(req.Step)), nil
}

// IdleEvaluations is how many consecutive evaluations of the source's request rate
// must be idle before cleanup.
const IdleEvaluations = 3

// Idle holds the flip, once drained, until the source's request rate for the service
// has stayed at or below Threshold for IdleEvaluations evaluations, Step apart.
type Idle struct {
	Metrics   Metrics
	Query     string
	Threshold float64
	Step      time.Duration
}

func (i *Idle) check(ctx context.Context, req Request) Result {
	promql, err := config.Query(i.Query, config.QueryTarget{Cluster: req.From, Namespace: req.Namespace, Service: req.Service})
	if err != nil {
		return Failed("policy.queries.requestRate: %v", err)
	}
	rates, err := i.Metrics.Samples(ctx, "policy.queries.requestRate", promql, req.Now, i.Step, IdleEvaluations)
	if err != nil {
		return Waiting("request rate of %s in %s unknown: %v", req.Service, req.From, err)
	}
	var text []string
	busy := false
	for _, r := range rates {
		text = append(text, fmt.Sprintf("%.3g", r))
		busy = busy || r > i.Threshold
	}
	if busy {
		return Waiting("%s still serves %s in %s (req/s over the last %d evaluations; idle is at most %g)", req.From, req.Service, strings.Join(text, ", "), IdleEvaluations, i.Threshold)
	}
	return Passed("%s idle in %s (%s req/s)", req.Service, req.From, strings.Join(text, ", "))
}
