package decide

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/step"
)

// engine holds the state of one NewPlan call.
type engine struct {
	policy config.Policy
	at     time.Time
	// sustain is the window the snapshot's sustained numbers cover.
	sustain config.Duration

	clusters []*clusterState // sorted by name
	byName   map[string]*clusterState
	services []*serviceState // sorted by name
	// latency[i][j] is the round trip between clusters i and j, NaN when not configured.
	latency    [][]float64
	maxLatency float64
	workloads  map[workloadKey]metrics.WorkloadMetrics

	inFlight  int
	budget    int
	decisions []Decision
	skipped   []Skip
}

// NewPlan decides which services move where. It is a pure function of in: it reads no
// clock (the evaluation time is the snapshot's) and iterates over no map without
// sorting, so the same input gives a byte-identical plan.
//
// Overloaded clusters are relieved first, the most overloaded first, then services
// that no longer need a far tier move back; both kinds share the budget of
// policy.maxConcurrent minus the migrations in flight.
func NewPlan(in Input) Plan {
	e := newEngine(in)
	for _, s := range e.services {
		if reason := e.immovable(s); reason != "" {
			e.skip(s, reason)
		}
	}
	e.relieveOverloaded()
	e.moveBack()
	e.skipTheRest()
	return e.result()
}

func newEngine(in Input) *engine {
	cfg := in.Config
	snap := in.Metrics
	if snap == nil {
		snap = &metrics.Snapshot{}
	}
	e := &engine{
		policy:    cfg.Policy,
		at:        snap.EvaluatedAt,
		sustain:   snap.Sustain,
		byName:    map[string]*clusterState{},
		workloads: map[workloadKey]metrics.WorkloadMetrics{},
	}
	metrics := map[string]*metrics.ClusterMetrics{}
	for i := range snap.Clusters {
		metrics[snap.Clusters[i].Name] = &snap.Clusters[i]
	}
	sorted := slices.Clone(cfg.Clusters)
	slices.SortFunc(sorted, func(a, b config.Cluster) int { return strings.Compare(a.Name, b.Name) })
	for i, cl := range sorted {
		c := newClusterState(i, cl, metrics[cl.Name], snap.Sustain, cfg.Policy, in.Fleet.EntryPoints[cl.Name])
		if in.Metrics == nil {
			c.unknown("no metrics")
		}
		e.clusters = append(e.clusters, c)
		e.byName[cl.Name] = c
	}
	e.latency = make([][]float64, len(e.clusters))
	for i := range e.latency {
		e.latency[i] = make([]float64, len(e.clusters))
		for j := range e.latency[i] {
			if i != j {
				e.latency[i][j] = math.NaN()
			}
		}
	}
	for _, l := range cfg.Latency {
		if len(l.Between) != 2 {
			continue
		}
		a, b := e.byName[l.Between[0]], e.byName[l.Between[1]]
		if a == nil || b == nil || a == b {
			continue
		}
		e.latency[a.index][b.index], e.latency[b.index][a.index] = l.MS, l.MS
		e.maxLatency = math.Max(e.maxLatency, l.MS)
	}
	for _, w := range snap.Workloads {
		e.workloads[workloadKey{w.Cluster, w.Namespace, w.Name}] = w
	}
	e.services = newServiceStates(in, e.byName)
	e.inFlight = len(in.InFlight)
	e.budget = max(0, cfg.Policy.MaxConcurrent-e.inFlight)
	e.reserve(append(slices.Clone(in.InFlight), in.Recent...))
	return e
}

// loadIn returns what s weighs in cluster c, and false when the snapshot does not say.
func (e *engine) loadIn(s *serviceState, c *clusterState) (load, bool) {
	w, ok := e.workloads[workloadKey{c.name, s.cfg.Namespace, s.cfg.Name}]
	if !ok {
		return load{}, false
	}
	return load{usage: amount{w.CPU.Usage, w.Memory.Usage}, requests: amount{w.CPU.Requests, w.Memory.Requests}}, true
}

// reserve promises each migration's load to its destination, unless the destination's
// metrics already count it, and credits it to its source, which it is leaving or has
// just left.
func (e *engine) reserve(migrations []Migration) {
	sorted := slices.Clone(migrations)
	slices.SortFunc(sorted, cmpMigration)
	for _, m := range sorted {
		s := e.service(m.Service)
		if s == nil {
			continue
		}
		src, dst := e.byName[m.From], e.byName[m.To]
		var w, atDest load
		var sized, counted bool
		if src != nil {
			w, sized = e.loadIn(s, src)
		}
		if dst != nil {
			atDest, counted = e.loadIn(s, dst)
		}
		if !sized && counted {
			// Gone from the source's workload metrics (a move just completed): what it
			// weighs where it runs now is the best measure of what it took away.
			w, sized = atDest, true
		}
		if sized && src != nil {
			src.used, src.requests = src.used.minus(w.usage), src.requests.minus(w.requests)
		}
		if dst == nil {
			continue
		}
		dst.arrive(s)
		if counted {
			continue
		}
		if !sized {
			dst.unsizedArrivals = append(dst.unsizedArrivals, fmt.Sprintf("%s from %s", m.Service, m.From))
			continue
		}
		dst.used, dst.requests = dst.used.plus(w.usage), dst.requests.plus(w.requests)
	}
}

func (e *engine) service(name string) *serviceState {
	i, ok := slices.BinarySearchFunc(e.services, name, func(s *serviceState, name string) int { return strings.Compare(s.cfg.Name, name) })
	if !ok {
		return nil
	}
	return e.services[i]
}

// immovable says why s cannot move at all, whatever the metrics.
func (e *engine) immovable(s *serviceState) string {
	switch {
	case s.migrating != nil:
		m := s.migrating
		return fmt.Sprintf("already migrating %s→%s (step %d of %d)", m.From, m.To, m.Step, step.Count)
	case len(s.running) == 0:
		return "runs in no cluster's overlay"
	case len(s.running) > 1:
		return fmt.Sprintf("runs in %s: gitmig moves a service that runs in exactly one cluster", clusterNames(s.running))
	case s.cfg.Pinned:
		return fmt.Sprintf("pinned to %s in gitmig.yaml", s.running[0].name)
	case s.coolAll.After(e.at):
		return fmt.Sprintf("cooling down until %s", s.coolAll.UTC().Format(time.RFC3339))
	}
	return ""
}

func clusterNames(cs []*clusterState) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

func (e *engine) skip(s *serviceState, reason string) {
	s.handled = true
	e.skipped = append(e.skipped, Skip{Service: s.cfg.Name, Reason: reason})
}

func (e *engine) decide(s *serviceState, from *clusterState, to assessment, w load, reason string, candidates []Candidate) {
	s.handled = true
	e.budget--
	from.used, from.requests = from.used.minus(w.usage), from.requests.minus(w.requests)
	to.cluster.used, to.cluster.requests = to.cluster.used.plus(w.usage), to.cluster.requests.plus(w.requests)
	to.cluster.arrive(s)
	e.decisions = append(e.decisions, Decision{
		Service: s.cfg.Name, Namespace: s.cfg.Namespace, From: from.name, To: to.cluster.name,
		Reason: reason, Candidates: candidates,
	})
}

// budgetReason explains why no more migrations start now.
func (e *engine) budgetReason() string {
	return fmt.Sprintf("policy.maxConcurrent %d reached (%d in flight, %d decided now)", e.policy.MaxConcurrent, e.inFlight, len(e.decisions))
}

// explainAll assesses s in every cluster, with reasons, best first.
func (e *engine) explainAll(s *serviceState, from *clusterState, w load, among []*clusterState) ([]assessment, []Candidate) {
	all := make([]assessment, 0, len(among))
	for _, c := range among {
		all = append(all, e.assess(s, from, c, w, true))
	}
	slices.SortFunc(all, func(a, b assessment) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	candidates := make([]Candidate, len(all))
	for i, a := range all {
		candidates[i] = e.candidate(a)
	}
	return all, candidates
}

// relieveOverloaded moves services off each overloaded cluster until its projected
// usage reaches policy.target, the most overloaded cluster first.
func (e *engine) relieveOverloaded() {
	var overloaded []*clusterState
	for _, c := range e.clusters {
		if c.state == StateOverloaded {
			overloaded = append(overloaded, c)
		}
	}
	slices.SortStableFunc(overloaded, func(a, b *clusterState) int {
		return cmp.Compare(b.severity(e.policy), a.severity(e.policy))
	})
	for _, c := range overloaded {
		e.relieve(c)
	}
}

func (e *engine) relieve(src *clusterState) {
	header := src.overloadSummary(e.policy, e.sustain)
	type mover struct {
		s *serviceState
		w load
	}
	var movers []mover
	for _, s := range e.services {
		if s.handled || s.running[0] != src {
			continue
		}
		w, ok := e.loadIn(s, src)
		if !ok {
			e.skip(s, fmt.Sprintf("%s; no usage metrics for %s/%s in %s, so moving it cannot be weighed", header, s.cfg.Namespace, s.cfg.Name, src.name))
			continue
		}
		movers = append(movers, mover{s, w})
	}
	var moved []string
	for len(movers) > 0 {
		excess := src.excess(e.policy)
		if excess == (amount{}) {
			break
		}
		if e.budget <= 0 {
			break
		}
		// Prefer the smallest service whose move alone brings the cluster to target (the
		// least disruption); when none does, the one that relieves it most.
		relief := func(m mover) (enough bool, size float64) {
			enough = true
			for r := range resourceCount {
				if excess[r] > 0 {
					size += m.w.usage[r] / src.capacity[r]
					enough = enough && m.w.usage[r] >= excess[r]
				}
			}
			return enough, size
		}
		var useless []mover
		movers = slices.DeleteFunc(movers, func(m mover) bool {
			if _, size := relief(m); size <= 0 {
				useless = append(useless, m)
				return true
			}
			return false
		})
		for _, m := range useless {
			e.skip(m.s, fmt.Sprintf("%s; moving %s would not relieve it: it uses no %s there", header, m.s.cfg.Name, overloadedResources(excess)))
		}
		slices.SortFunc(movers, func(a, b mover) int {
			enoughA, sizeA := relief(a)
			enoughB, sizeB := relief(b)
			switch {
			case enoughA != enoughB:
				if enoughA {
					return -1
				}
				return 1
			case sizeA != sizeB:
				if enoughA {
					return cmp.Compare(sizeA, sizeB)
				}
				return cmp.Compare(sizeB, sizeA)
			}
			return strings.Compare(a.s.cfg.Name, b.s.cfg.Name)
		})
		decided := false
		for i, m := range movers {
			best, ok := e.bestDestination(m.s, src, m.w, e.clusters)
			if !ok {
				e.skip(m.s, fmt.Sprintf("%s; no cluster can take %s: %s", header, m.s.cfg.Name, e.infeasibleSummary(m.s, src, m.w, e.clusters)))
				continue
			}
			all, candidates := e.explainAll(m.s, src, m.w, e.clusters)
			feasible := 0
			for _, a := range all {
				if a.feasible {
					feasible++
				}
			}
			after := src.used.minus(m.w.usage)
			target := thresholds(e.policy.Target)
			reason := fmt.Sprintf("%s; moving %s (cpu %s, memory %s) brings it to cpu %s, memory %s (target %s, %s); %s scores best, %.2f, of %d feasible cluster(s)",
				header, m.s.cfg.Name, quantity(cpu, m.w.usage[cpu]), quantity(memory, m.w.usage[memory]),
				ratio(after[cpu]/src.capacity[cpu]), ratio(after[memory]/src.capacity[memory]), ratio(target[cpu]), ratio(target[memory]),
				best.cluster.name, best.score, feasible)
			e.decide(m.s, src, best, m.w, reason, candidates)
			moved = append(moved, m.s.cfg.Name)
			// Movers before i found no destination and were skipped; drop them and
			// the one decided.
			movers = movers[i+1:]
			decided = true
			break
		}
		if !decided {
			movers = nil
		}
	}
	for _, m := range movers {
		switch {
		case src.excess(e.policy) == (amount{}) && len(moved) > 0:
			e.skip(m.s, fmt.Sprintf("%s; moving %s already brings it to target", header, strings.Join(moved, ", ")))
		case src.excess(e.policy) == (amount{}):
			e.skip(m.s, fmt.Sprintf("%s; migrations in flight already bring it to target", header))
		default:
			e.skip(m.s, fmt.Sprintf("%s; %s", header, e.budgetReason()))
		}
	}
}

func overloadedResources(excess amount) string {
	var names []string
	for r := range resourceCount {
		if excess[r] > 0 {
			names = append(names, r.String())
		}
	}
	return strings.Join(names, " or ")
}

// bestDestination returns the best feasible cluster other than from, if any.
func (e *engine) bestDestination(s *serviceState, from *clusterState, w load, among []*clusterState) (assessment, bool) {
	var best assessment
	found := false
	for _, c := range among {
		if c == from {
			continue
		}
		a := e.assess(s, from, c, w, false)
		if a.feasible && (!found || better(a, best)) {
			best, found = a, true
		}
	}
	return best, found
}

// summarised is how many rejected clusters a skip reason explains; the rest are
// counted. Explaining every cluster of a large fleet for every service that stays
// would cost more than the whole plan.
const summarised = 3

// infeasibleSummary explains why the first clusters, by name, cannot take s; all of
// among are infeasible.
func (e *engine) infeasibleSummary(s *serviceState, from *clusterState, w load, among []*clusterState) string {
	var parts []string
	for _, c := range among[:min(summarised, len(among))] {
		a := e.assess(s, from, c, w, true)
		parts = append(parts, c.name+": "+e.why(a))
	}
	if rest := len(among) - summarised; rest > 0 {
		return fmt.Sprintf("%s; and %d more", strings.Join(parts, "; "), rest)
	}
	return strings.Join(parts, "; ")
}

// moveBack returns services to a closer tier when a closer cluster can take them
// without reaching policy.target and scores better than staying by more than the
// stickiness: the gap between target and overload, the stickiness margin and the
// cooldown keep a service from going back and forth.
func (e *engine) moveBack() {
	for _, s := range e.services {
		if s.handled || e.budget <= 0 {
			continue
		}
		from := s.running[0]
		if from.state != StateOK {
			continue
		}
		var closer []*clusterState
		for _, c := range e.clusters {
			if c.rank < from.rank && s.allowsTier(c.tier) {
				closer = append(closer, c)
			}
		}
		if len(closer) == 0 {
			continue
		}
		w, ok := e.loadIn(s, from)
		if !ok {
			e.skip(s, fmt.Sprintf("%s; no usage metrics for %s/%s in %s, so a move back cannot be weighed", from.okSummary(e.policy), s.cfg.Namespace, s.cfg.Name, from.name))
			continue
		}
		stay := e.assess(s, from, from, w, false)
		best, found := e.bestDestination(s, from, w, closer)
		if found && best.score > stay.score {
			_, candidates := e.explainAll(s, from, w, append([]*clusterState{from}, closer...))
			reason := fmt.Sprintf("%s; move back to the closer %s tier: %s scores %.2f, above staying in %s at %.2f (stickiness %g included)",
				from.okSummary(e.policy), best.cluster.tier, best.cluster.name, best.score, from.name, stay.score, e.policy.Stickiness)
			e.decide(s, from, best, w, reason, candidates)
			continue
		}
		if found {
			e.skip(s, fmt.Sprintf("%s; stays: the best closer cluster %s scores %.2f, not above staying at %.2f (stickiness %g included)",
				from.okSummary(e.policy), best.cluster.name, best.score, stay.score, e.policy.Stickiness))
			continue
		}
		e.skip(s, fmt.Sprintf("%s; stays: no closer cluster can take it: %s", from.okSummary(e.policy), e.infeasibleSummary(s, from, w, closer)))
	}
}

// skipTheRest gives every service not yet decided or skipped its reason to stay.
func (e *engine) skipTheRest() {
	for _, s := range e.services {
		if s.handled {
			continue
		}
		from := s.running[0]
		switch {
		case from.state == metrics.StateUnknown:
			e.skip(s, fmt.Sprintf("%s metrics Unknown (%s): Unknown never triggers a move", from.name, from.why))
		case e.budget <= 0:
			e.skip(s, fmt.Sprintf("%s; move back not considered: %s", from.okSummary(e.policy), e.budgetReason()))
		default:
			e.skip(s, fmt.Sprintf("%s; no closer cluster is allowed for it", from.okSummary(e.policy)))
		}
	}
}

func (e *engine) result() Plan {
	p := Plan{EvaluatedAt: e.at.UTC(), Clusters: make([]ClusterStatus, 0, len(e.clusters)), Decisions: e.decisions, Skipped: e.skipped}
	for _, c := range e.clusters {
		p.Clusters = append(p.Clusters, c.status())
	}
	if p.Decisions == nil {
		p.Decisions = []Decision{}
	}
	if p.Skipped == nil {
		p.Skipped = []Skip{}
	}
	slices.SortStableFunc(p.Skipped, func(a, b Skip) int { return strings.Compare(a.Service, b.Service) })
	return p
}

// workloadKey names a workload of a cluster.
type workloadKey struct{ cluster, namespace, name string }
