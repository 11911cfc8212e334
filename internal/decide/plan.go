package decide

import (
	"slices"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
)

// Cluster states in a plan.
const (
	StateOK         = "OK"
	StateOverloaded = "Overloaded"
	// StateUnknown is shared with snapshots.
	StateUnknown = metrics.StateUnknown
)

// Plan is the engine's answer: the state of every cluster, the migrations to start and,
// for every other service, why it stays. Its JSON form is the output of `gitmig plan
// -o json` (docs/design.md, The plan).
type Plan struct {
	EvaluatedAt time.Time       `json:"evaluatedAt"`
	Clusters    []ClusterStatus `json:"clusters"`
	Decisions   []Decision      `json:"decisions"`
	Skipped     []Skip          `json:"skipped"`
	// Warnings say where the metrics snapshot and gitmig.yaml do not meet, such as a
	// cluster gitmig.yaml does not have; the plan is computed all the same.
	Warnings []string `json:"warnings,omitempty"`
}

// ClusterStatus is one cluster's state and its sustained utilisation.
type ClusterStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Why explains an Unknown state.
	Why    string      `json:"why,omitempty"`
	CPU    Utilization `json:"cpu"`
	Memory Utilization `json:"memory"`
}

// Utilization is the sustained usage of one resource against the cluster's capacity
// (cores or bytes); all zero when Unknown.
type Utilization struct {
	// Sustained is the minimum of the cluster's total usage over the sustain window.
	Sustained float64 `json:"sustained"`
	Capacity  float64 `json:"capacity"`
	// Utilization is Sustained / Capacity, the fraction policy.overload applies to.
	Utilization float64 `json:"utilization"`
}

// Decision is one migration to start.
type Decision struct {
	Service    string      `json:"service"`
	Namespace  string      `json:"namespace"`
	From       string      `json:"from"`
	To         string      `json:"to"`
	Reason     string      `json:"reason"`
	Candidates []Candidate `json:"candidates"`
	// Clients is the way each client of the service, where it runs, will reach it once
	// the migration completes.
	Clients []ClientPath `json:"clients,omitempty"`
	// Calls is the way the service will reach each service it calls, from the
	// destination: what matters most for a workload with no Service.
	Calls []ClientPath `json:"calls,omitempty"`
}

// ClientPath is how a client in one cluster will reach a moved service: straight to
// the destination's ingress through the ExternalName in its cluster (the move re-points
// those that earlier moves left elsewhere), or locally when it runs in the destination.
type ClientPath struct {
	// Service is the service called, in Decision.Calls; the moved one in Clients.
	Service string `json:"service,omitempty"`
	Client  string `json:"client"`
	Cluster string `json:"cluster"`
	// Path lists the clusters from the client's to the service's: one when local, two
	// when one hop.
	Path []string `json:"path"`
	// LatencyMS is gitmig.yaml's latency between the two; absent when it does not say.
	LatencyMS *float64 `json:"latencyMs,omitempty"`
}

// ClientPaths says how every client of service, in every cluster where running says
// it runs, will reach it in cluster to, sorted by client, then cluster.
func ClientPaths(cfg *config.Config, running map[string][]string, service, to string) []ClientPath {
	svc, ok := cfg.Service(service)
	if !ok {
		return nil
	}
	var paths []ClientPath
	for _, client := range slices.Sorted(slices.Values(svc.Clients)) {
		for _, cluster := range slices.Sorted(slices.Values(running[client])) {
			p := ClientPath{Client: client, Cluster: cluster, Path: []string{cluster}}
			if cluster != to {
				p.Path = append(p.Path, to)
			}
			if ms, ok := cfg.LatencyMS(cluster, to); ok {
				p.LatencyMS = &ms
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// CallPaths says how service, once in cluster to, will reach each service it calls
// where running says that one runs (locally when it runs in to, else in one hop to
// the first cluster that runs it, as step 1's stub leads), sorted by service.
func CallPaths(cfg *config.Config, running map[string][]string, service, to string) []ClientPath {
	var paths []ClientPath
	for _, dep := range cfg.Dependencies(service) {
		homes := running[dep.Name]
		if len(homes) == 0 {
			continue
		}
		p := ClientPath{Service: dep.Name, Client: service, Cluster: to, Path: []string{to}}
		if home := homes[0]; !slices.Contains(homes, to) {
			p.Path = append(p.Path, home)
		}
		if ms, ok := cfg.LatencyMS(to, p.Path[len(p.Path)-1]); ok {
			p.LatencyMS = &ms
		}
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b ClientPath) int { return strings.Compare(a.Service, b.Service) })
	return paths
}

// Candidate is one cluster considered for a decision, the current one included.
type Candidate struct {
	Cluster  string  `json:"cluster"`
	Feasible bool    `json:"feasible"`
	Score    float64 `json:"score"`
	Why      string  `json:"why"`
}

// Skip is a service that does not move, and why.
type Skip struct {
	Service string `json:"service"`
	Reason  string `json:"reason"`
}
