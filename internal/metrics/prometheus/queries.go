package prometheus

import (
	"fmt"
	"time"

	"github.com/prometheus/common/model"

	"github.com/gitmig/gitmig/internal/config"
)

// What a query measures, which decides how its samples are read.
type queryRole int

const (
	roleSustained queryRole = iota + 1 // one sample per cluster
	roleUsage                          // one sample per workload
	roleRequests                       // one sample per workload
	roleCapacity                       // one sample per cluster
)

type resource int

const (
	cpu resource = iota
	memory
	// resourceCount lets `for r := range resourceCount` visit every resource.
	resourceCount
)

func (r resource) String() string {
	if r == cpu {
		return "cpu"
	}
	return "memory"
}

// fleetQuery is one PromQL expression evaluated once for the whole fleet.
type fleetQuery struct {
	name     string
	field    string // where gitmig.yaml sets it
	promql   string
	role     queryRole
	resource resource
}

// fleetQueries returns the queries a snapshot needs. Their number depends on nothing
// but whether some cluster lacks a configured capacity: never on the number of
// services, workloads or clusters.
func fleetQueries(cfg *config.Config) []fleetQuery {
	p := cfg.Policy
	q := p.Queries
	label := p.Prometheus.ClusterLabel
	window := p.Sustain.Duration
	queries := []fleetQuery{
		{"cpuSustained", "policy.queries.cpuUsage", sustainedQuery(q.CPUUsage, label, window), roleSustained, cpu},
		{"memorySustained", "policy.queries.memoryUsage", sustainedQuery(q.MemoryUsage, label, window), roleSustained, memory},
		{"cpuUsage", "policy.queries.cpuUsage", q.CPUUsage, roleUsage, cpu},
		{"memoryUsage", "policy.queries.memoryUsage", q.MemoryUsage, roleUsage, memory},
		{"cpuRequests", "policy.queries.cpuRequests", q.CPURequests, roleRequests, cpu},
		{"memoryRequests", "policy.queries.memoryRequests", q.MemoryRequests, roleRequests, memory},
	}
	var needCPU, needMemory bool
	for _, cl := range cfg.Clusters {
		_, hasCPU := cl.CPUCores()
		_, hasMemory := cl.MemoryBytes()
		needCPU = needCPU || !hasCPU
		needMemory = needMemory || !hasMemory
	}
	if needCPU {
		queries = append(queries, fleetQuery{"cpuCapacity", "policy.queries.cpuCapacity", q.CPUCapacity, roleCapacity, cpu})
	}
	if needMemory {
		queries = append(queries, fleetQuery{"memoryCapacity", "policy.queries.memoryCapacity", q.MemoryCapacity, roleCapacity, memory})
	}
	return queries
}

// sustainedQuery returns, per cluster, the minimum of the cluster's total usage over
// window, sampled at window/10 by a subquery: the cluster was at least that busy during
// the whole window, so one spike never raises it. A cluster whose series do not cover
// every step of the window is dropped from the answer (the "and" with the sample count),
// so that a minimum over a few minutes of data never passes for a sustained one; the
// source reports such a cluster Unknown.
func sustainedQuery(usage, clusterLabel string, window time.Duration) string {
	step, samples := subqueryStep(window)
	total := fmt.Sprintf("sum by (%s) (%s)", clusterLabel, usage)
	rng := fmt.Sprintf("[%s:%s]", model.Duration(window), model.Duration(step))
	return fmt.Sprintf("min_over_time((%s)%s) and on (%s) (count_over_time((%s)%s) >= %d)",
		total, rng, clusterLabel, total, rng, samples)
}

// subqueryStep splits window into ten steps of whole seconds, and returns the number of
// samples that cover it.
func subqueryStep(window time.Duration) (step time.Duration, samples int) {
	step = (window / 10).Truncate(time.Second)
	if step < time.Second {
		step = time.Second
	}
	samples = int(window / step)
	if samples < 1 {
		samples = 1
	}
	return step, samples
}
