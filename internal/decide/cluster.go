package decide

import (
	"fmt"
	"maps"
	"math"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/traffic"
)

// clusterState is one cluster as the engine sees it while it plans: its verdict from the
// sustained metrics, and a ledger of usage and requests that every decision (and every
// migration in flight) updates, so that later decisions see the capacity already given.
type clusterState struct {
	index int
	name  string
	tier  string
	rank  int
	cfg   config.Cluster
	// entryPoints maps a port to the entry point listening on it.
	entryPoints map[int32]entryPoint
	// use says what the cluster's routes, and the migrations planned or in flight to
	// it, send through each entry point, by name.
	use map[string]traffic.EntryPointUse

	state string
	why   string

	sustained amount
	capacity  amount
	// used and requests start as measured and move with each decision.
	used     amount
	requests amount
	// unsizedArrivals names in-flight migrations into this cluster whose size is
	// unknown: its free capacity cannot be known either.
	unsizedArrivals []string
}

type entryPoint struct{ name, protocol string }

// newClusterState judges a cluster from its metrics m (nil when the snapshot lacks it),
// whose sustained numbers cover the window snapSustain; uses is what its routes send
// through its entry points.
func newClusterState(index int, cl config.Cluster, m *metrics.ClusterMetrics, snapSustain config.Duration, policy config.Policy, uses map[string]traffic.EntryPointUse) *clusterState {
	c := &clusterState{index: index, name: cl.Name, tier: cl.Tier, rank: config.TierRank(cl.Tier), cfg: cl,
		entryPoints: map[int32]entryPoint{}, use: maps.Clone(uses)}
	for name, e := range cl.Ingress.EntryPoints {
		// Two entry points on one port are a validation error; the smaller name wins
		// anyway so that the engine stays deterministic on unvalidated input.
		if prev, ok := c.entryPoints[e.Port]; !ok || name < prev.name {
			c.entryPoints[e.Port] = entryPoint{name: name, protocol: e.Protocol}
		}
	}
	if c.use == nil {
		c.use = map[string]traffic.EntryPointUse{}
	}
	switch {
	case m == nil:
		c.unknown("the metrics snapshot has no entry for this cluster")
		return c
	case m.Unknown():
		c.unknown(m.Why)
		return c
	case snapSustain.Duration < policy.Sustain.Duration:
		c.unknown(fmt.Sprintf("the snapshot's sustained usage covers %s, less than policy.sustain %s", model.Duration(snapSustain.Duration), model.Duration(policy.Sustain.Duration)))
		return c
	}
	c.sustained = amount{m.CPU.Sustained, m.Memory.Sustained}
	c.used = amount{m.CPU.Used, m.Memory.Used}
	c.requests = amount{m.CPU.Requests, m.Memory.Requests}
	c.capacity = amount{m.CPU.Capacity, m.Memory.Capacity}
	for r := range resourceCount {
		for _, v := range []float64{c.sustained[r], c.used[r], c.requests[r], c.capacity[r]} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				c.unknown(fmt.Sprintf("%s metrics hold %v", r, v))
				return c
			}
		}
		if c.capacity[r] == 0 {
			c.unknown(fmt.Sprintf("%s capacity is 0", r))
			return c
		}
	}
	c.state = StateOK
	overload := thresholds(policy.Overload)
	for r := range resourceCount {
		if c.sustained[r]/c.capacity[r] > overload[r] {
			c.state = StateOverloaded
		}
	}
	return c
}

func (c *clusterState) unknown(why string) {
	c.state = metrics.StateUnknown
	c.why = why
}

func thresholds(t config.Thresholds) amount { return amount{t.CPU, t.Memory} }

// overloadSummary says which resources are over the overload threshold, with numbers.
func (c *clusterState) overloadSummary(policy config.Policy, sustain config.Duration) string {
	overload := thresholds(policy.Overload)
	var parts []string
	for r := range resourceCount {
		if u := c.sustained[r] / c.capacity[r]; u > overload[r] {
			parts = append(parts, fmt.Sprintf("sustained %s %s > %s", r, fraction(r, c.sustained[r], c.capacity[r]), ratio(overload[r])))
		}
	}
	return fmt.Sprintf("%s Overloaded: %s over %s", c.name, strings.Join(parts, ", "), model.Duration(sustain.Duration))
}

// okSummary gives the sustained utilisation of an OK cluster against the thresholds.
func (c *clusterState) okSummary(policy config.Policy) string {
	overload := thresholds(policy.Overload)
	return fmt.Sprintf("%s OK (sustained cpu %s ≤ %s, memory %s ≤ %s)", c.name,
		ratio(c.sustained[cpu]/c.capacity[cpu]), ratio(overload[cpu]),
		ratio(c.sustained[memory]/c.capacity[memory]), ratio(overload[memory]))
}

// severity orders overloaded clusters: the one furthest over its threshold first.
func (c *clusterState) severity(policy config.Policy) float64 {
	overload := thresholds(policy.Overload)
	worst := 0.0
	for r := range resourceCount {
		worst = math.Max(worst, c.sustained[r]/c.capacity[r]/overload[r])
	}
	return worst
}

// excess is how much of each resource must leave for the cluster's current usage to
// reach target; zero for a resource already there.
func (c *clusterState) excess(policy config.Policy) amount {
	target := thresholds(policy.Target)
	var e amount
	for r := range resourceCount {
		e[r] = math.Max(0, c.used[r]-target[r]*c.capacity[r])
	}
	return e
}

func (c *clusterState) status() ClusterStatus {
	s := ClusterStatus{Name: c.name, State: c.state, Why: c.why}
	if c.state == metrics.StateUnknown {
		return s
	}
	s.CPU = Utilization{Used: round(c.sustained[cpu], 3), Capacity: round(c.capacity[cpu], 3), Utilization: round(c.sustained[cpu]/c.capacity[cpu], 4)}
	s.Memory = Utilization{Used: round(c.sustained[memory], 0), Capacity: round(c.capacity[memory], 0), Utilization: round(c.sustained[memory]/c.capacity[memory], 4)}
	return s
}
