package decide

import (
	"fmt"
	"math"
	"strings"
)

// load is what a service weighs where it runs.
type load struct {
	usage, requests amount
}

// assessment is one cluster judged as the place for a service.
type assessment struct {
	cluster  *clusterState
	current  bool
	feasible bool
	// problems lists every failed filter (only the first when not explaining).
	problems []string
	score    float64

	postUsed, postRequests amount
	headroom, latencyScore float64
	worstLatency           float64
	worstClients           string
	latencyBound           float64
}

// Score weights: headroom and latency to clients count alike, so a far cluster with
// room to spare and a near one with little room are a close call that stickiness
// settles.
const (
	headroomWeight = 50.0
	latencyWeight  = 50.0
)

// assess applies the destination filters of DESIGN.md's rule 3 to dest and scores it.
// Without explain it stops at the first failed filter and builds no text: the engine
// assesses every (service, cluster) pair of a large fleet this way, and explains only
// the few that end up in the plan.
func (e *engine) assess(s *serviceState, src, dest *clusterState, w load, explain bool) assessment {
	a := assessment{cluster: dest, current: src == dest}
	fail := func(format string, args ...any) bool {
		if explain {
			a.problems = append(a.problems, fmt.Sprintf(format, args...))
		} else if len(a.problems) == 0 {
			a.problems = append(a.problems, "")
		}
		return !explain
	}
	stop := false
	switch {
	case dest.state == StateUnknown:
		stop = fail("metrics Unknown (%s): never counted as free capacity", dest.why)
	case dest.state == StateOverloaded:
		stop = fail("%s", dest.overloadSummary(e.policy, e.sustain))
	}
	if stop {
		return a
	}
	if a.current {
		// Staying needs no new capacity: the service is already counted where it runs.
		a.postUsed, a.postRequests = dest.used, dest.requests
	} else {
		if stop = e.placementProblems(s, dest, fail); stop {
			return a
		}
		if len(dest.unsizedArrivals) > 0 && dest.state != StateUnknown {
			if fail("migrations in flight to %s have no known size (%s)", dest.name, strings.Join(dest.unsizedArrivals, ", ")) {
				return a
			}
		}
		a.postUsed, a.postRequests = dest.used.plus(w.usage), dest.requests.plus(w.requests)
		if dest.state != StateUnknown {
			target := thresholds(e.policy.Target)
			for r := range resourceCount {
				if u := a.postUsed[r] / dest.capacity[r]; u > target[r] {
					if fail("%s used after the move %s > target %s", r, fraction(r, a.postUsed[r], dest.capacity[r]), ratio(target[r])) {
						return a
					}
				}
				if u := a.postRequests[r] / dest.capacity[r]; u > target[r] {
					if fail("%s requested after the move %s > target %s", r, fraction(r, a.postRequests[r], dest.capacity[r]), ratio(target[r])) {
						return a
					}
				}
			}
		}
	}
	a.latencyBound = e.latencyBound(s)
	a.worstLatency, a.worstClients = 0, ""
	for _, cp := range s.clients {
		lat := e.latency[cp.cluster.index][dest.index]
		if math.IsNaN(lat) {
			if s.cfg.MaxLatencyMS != nil && !a.current {
				if fail("latency between %s (clients %s) and %s is not in gitmig.yaml, and maxLatencyMs is %s", cp.cluster.name, cp.names, dest.name, ms(*s.cfg.MaxLatencyMS)) {
					return a
				}
			}
			// An unknown distance scores as the worst acceptable one.
			lat = a.latencyBound
		}
		if lat > a.worstLatency || a.worstClients == "" {
			a.worstLatency, a.worstClients = lat, cp.names+"@"+cp.cluster.name
		}
		if bound := s.cfg.MaxLatencyMS; bound != nil && lat > *bound && !a.current {
			if fail("latency to %s in %s is %s > maxLatencyMs %s", cp.names, cp.cluster.name, ms(lat), ms(*bound)) {
				return a
			}
		}
	}
	if len(a.problems) > 0 {
		return a
	}
	a.feasible = true
	a.headroom = headroom(a.postUsed, a.postRequests, dest.capacity, thresholds(e.policy.Target))
	a.latencyScore = 1
	if len(s.clients) > 0 {
		a.latencyScore = latencyScore(a.worstLatency, a.latencyBound)
	}
	a.score = round(headroomWeight*a.headroom+latencyWeight*a.latencyScore, 2)
	if a.current {
		a.score = round(a.score+e.policy.Stickiness, 2)
	}
	return a
}

// placementProblems checks what makes dest a valid new home for s whatever the load:
// tier, cooldown, entry points and the reachability of what s calls. It returns true
// when fail asked to stop.
func (e *engine) placementProblems(s *serviceState, dest *clusterState, fail func(string, ...any) bool) bool {
	if !s.allowsTier(dest.tier) {
		if fail("tier %s is not in the service's tiers [%s]", dest.tier, strings.Join(s.cfg.Tiers, " ")) {
			return true
		}
	}
	if until, ok := s.coolingDown(dest.name, e.at); ok {
		if fail("%s→%s cooling down until %s", s.cfg.Name, dest.name, until.UTC().Format("2006-01-02T15:04:05Z")) {
			return true
		}
	}
	for _, p := range s.ports {
		if p.Protocol != "" && !strings.EqualFold(p.Protocol, "TCP") {
			if fail("port %s %d/%s: a Traefik IngressRoute carries TCP only", p.Name, p.Port, p.Protocol) {
				return true
			}
			continue
		}
		if _, ok := dest.entryPoints[p.Port]; !ok {
			if fail("no ingress entry point on port %d for port %s", p.Port, p.Name) {
				return true
			}
		}
	}
	for _, d := range s.deps {
		if d.runsIn(dest) || d.routedFrom != "" {
			continue
		}
		where := "runs nowhere"
		if len(d.running) > 0 {
			names := make([]string, len(d.running))
			for i, c := range d.running {
				names[i] = c.name
			}
			where = "runs in " + strings.Join(names, ", ") + " without an IngressRoute to it"
		}
		if fail("calls %s, unreachable from %s: %s", d.cfg.Name, dest.name, where) {
			return true
		}
	}
	return false
}

// latencyBound is the latency that scores zero: the service's maxLatencyMs, else the
// largest latency gitmig.yaml lists.
func (e *engine) latencyBound(s *serviceState) float64 {
	if s.cfg.MaxLatencyMS != nil {
		return *s.cfg.MaxLatencyMS
	}
	return e.maxLatency
}

// headroom is the share of the target left free after the move, for the tighter of
// usage and requests on the tighter resource: 1 for an empty cluster, 0 at the target.
func headroom(used, requested, capacity, target amount) float64 {
	h := 1.0
	for r := range resourceCount {
		load := math.Max(used[r], requested[r]) / capacity[r]
		h = math.Min(h, 1-load/target[r])
	}
	return math.Max(0, h)
}

// latencyScore is 1 next to every client and 0 at the bound.
func latencyScore(worst, bound float64) float64 {
	if bound <= 0 {
		if worst <= 0 {
			return 1
		}
		return 0
	}
	return math.Max(0, math.Min(1, 1-worst/bound))
}

// why explains an assessment with its numbers.
func (e *engine) why(a assessment) string {
	if !a.feasible {
		if a.current {
			return "current cluster; " + strings.Join(a.problems, "; ")
		}
		return strings.Join(a.problems, "; ")
	}
	target := thresholds(e.policy.Target)
	c := a.cluster
	var b strings.Builder
	if a.current {
		b.WriteString("current cluster; ")
	} else {
		b.WriteString("after the move ")
	}
	for r := range resourceCount {
		if r > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s used %s, requested %s (target %s)", r,
			fraction(r, a.postUsed[r], c.capacity[r]), fraction(r, a.postRequests[r], c.capacity[r]), ratio(target[r]))
	}
	if a.worstClients != "" {
		fmt.Fprintf(&b, "; latency to %s %s", a.worstClients, ms(a.worstLatency))
		if a.latencyBound > 0 {
			fmt.Fprintf(&b, " (bound %s)", ms(a.latencyBound))
		}
	} else {
		b.WriteString("; no clients")
	}
	fmt.Fprintf(&b, "; score %g×%.2f headroom + %g×%.2f latency", headroomWeight, a.headroom, latencyWeight, a.latencyScore)
	if a.current {
		fmt.Fprintf(&b, " + %g stickiness", e.policy.Stickiness)
	}
	fmt.Fprintf(&b, " = %.2f", a.score)
	return b.String()
}

func (e *engine) candidate(a assessment) Candidate {
	return Candidate{Cluster: a.cluster.name, Feasible: a.feasible, Score: a.score, Why: e.why(a)}
}

// better orders assessments: feasible first, then by score, then by cluster name, so
// that ties never depend on map or input order.
func better(a, b assessment) bool {
	if a.feasible != b.feasible {
		return a.feasible
	}
	if a.score != b.score {
		return a.score > b.score
	}
	return a.cluster.name < b.cluster.name
}
