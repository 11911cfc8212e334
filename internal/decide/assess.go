package decide

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/metrics"
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
	// failed is set by the first failed filter; problems lists them all, when
	// explaining.
	failed   bool
	problems []string
	score    float64

	postUsed, postRequests amount
	headroom, latencyScore float64
	worstLatency           float64
	worstClients           *clientPlacement
	latencyBound           float64
}

// Score weights: headroom and latency to clients count alike, so a far cluster with
// room to spare and a near one with little room are a close call that stickiness
// settles.
const (
	headroomWeight = 50.0
	latencyWeight  = 50.0
)

// findings collects the failed filters of one assessment. Without explain the first
// failure settles it and no text is built: the engine assesses every (service,
// cluster) pair of a large fleet this way, and explains only what ends up in the plan.
type findings struct {
	explain bool
	failed  bool
	list    []string
}

// fail records a failed filter and says whether to stop there; when it does not, the
// caller describes the failure with note.
func (f *findings) fail() (stop bool) {
	f.failed = true
	return !f.explain
}

func (f *findings) note(format string, args ...any) {
	f.list = append(f.list, fmt.Sprintf(format, args...))
}

// assess applies the destination filters to dest and scores it.
func (e *engine) assess(s *serviceState, src, dest *clusterState, w load, explain bool) (a assessment) {
	a = assessment{cluster: dest, current: src == dest}
	f := &findings{explain: explain}
	// Whichever filter ends the assessment, its findings go with it.
	defer func() { a.failed, a.problems = f.failed, f.list }()
	switch dest.state {
	case metrics.StateUnknown:
		if f.fail() {
			return a
		}
		f.note("metrics Unknown (%s): never counted as free capacity", dest.why)
	case StateOverloaded:
		if f.fail() {
			return a
		}
		f.note("%s", dest.overloadSummary(e.policy, e.sustain))
	}
	if a.current {
		// Staying needs no new capacity: the service is already counted where it runs.
		a.postUsed, a.postRequests = dest.used, dest.requests
	} else {
		if e.placementProblems(s, dest, f) {
			return a
		}
		if len(dest.unsizedArrivals) > 0 && dest.state != metrics.StateUnknown {
			if f.fail() {
				return a
			}
			f.note("migrations in flight to %s have no known size (%s)", dest.name, strings.Join(dest.unsizedArrivals, ", "))
		}
		a.postUsed, a.postRequests = dest.used.plus(w.usage), dest.requests.plus(w.requests)
		if dest.state != metrics.StateUnknown && e.overTarget(dest, a.postUsed, a.postRequests, f) {
			return a
		}
	}
	a.latencyBound = e.latencyBound(s)
	bound := s.cfg.MaxLatencyMS
	for i := range s.clients {
		cp := &s.clients[i]
		lat := e.latency[cp.cluster.index][dest.index]
		if math.IsNaN(lat) {
			if bound != nil && !a.current {
				if f.fail() {
					return a
				}
				f.note("latency between %s (clients %s) and %s is not in gitmig.yaml, and maxLatencyMs is %s", cp.cluster.name, cp.names, dest.name, ms(*bound))
			}
			// An unknown distance scores as the worst acceptable one.
			lat = a.latencyBound
		}
		if a.worstClients == nil || lat > a.worstLatency {
			a.worstLatency, a.worstClients = lat, cp
		}
		if bound != nil && lat > *bound && !a.current {
			if f.fail() {
				return a
			}
			f.note("latency to %s in %s is %s > maxLatencyMs %s", cp.names, cp.cluster.name, ms(lat), ms(*bound))
		}
	}
	if f.failed {
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

// overTarget checks that dest stays within policy.target, for usage and requests,
// once it holds used and requested. It returns true when f says to stop.
func (e *engine) overTarget(dest *clusterState, used, requested amount, f *findings) bool {
	target := thresholds(e.policy.Target)
	for r := range resourceCount {
		for _, m := range []struct {
			what  string
			value float64
		}{{"used", used[r]}, {"requested", requested[r]}} {
			if m.value/dest.capacity[r] <= target[r] {
				continue
			}
			if f.fail() {
				return true
			}
			f.note("%s %s after the move %s > target %s", r, m.what, fraction(r, m.value, dest.capacity[r]), ratio(target[r]))
		}
	}
	return false
}

// placementProblems checks what makes dest a valid new home for s whatever the load:
// tier, cooldown, an entry point that can carry each port (of the protocol its kind of
// route needs, and free where that route or one already there takes every
// connection) and the reachability of what s calls. It returns true when f says to
// stop.
func (e *engine) placementProblems(s *serviceState, dest *clusterState, f *findings) bool {
	if !s.allowsTier(dest.tier) {
		if f.fail() {
			return true
		}
		f.note("tier %s is not in the service's tiers [%s]", dest.tier, strings.Join(s.cfg.Tiers, " "))
	}
	if until, ok := s.coolingDown(dest.name, e.at); ok {
		if f.fail() {
			return true
		}
		f.note("%s→%s cooling down until %s", s.cfg.Name, dest.name, until.UTC().Format(time.RFC3339))
	}
	for _, p := range s.ports {
		if p.unroutable != "" {
			if f.fail() {
				return true
			}
			f.note("port %s %d: %s", p.name, p.port, p.unroutable)
			continue
		}
		ep, ok := dest.entryPoints[p.port]
		if !ok || ep.protocol != string(p.kind.EntryPoint()) {
			if f.fail() {
				return true
			}
			_, err := dest.cfg.EntryPointFor(p.port, p.kind)
			f.note("port %s %d (%s): %v", p.name, p.port, p.kind, err)
			continue
		}
		if others := dest.use[ep.name].Conflicts(s.ref, p.kind); len(others) > 0 {
			if f.fail() {
				return true
			}
			if p.kind.Exclusive() {
				f.note("port %s %d (%s): its route would take every connection of entry point %s, which already routes %s", p.name, p.port, p.kind, ep.name, strings.Join(others, ", "))
			} else {
				f.note("port %s %d (%s): a HostSNI(`*`) or UDP route takes every connection of entry point %s, for %s", p.name, p.port, p.kind, ep.name, strings.Join(others, ", "))
			}
		}
	}
	for _, d := range s.deps {
		if d.runsIn(dest) || d.routedFrom != "" {
			continue
		}
		if f.fail() {
			return true
		}
		where := "runs nowhere"
		if len(d.running) > 0 {
			where = "runs in " + clusterNames(d.running) + " without a Traefik route to it"
		}
		f.note("calls %s, unreachable from %s: %s", d.cfg.Name, dest.name, where)
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
	if a.worstClients != nil {
		fmt.Fprintf(&b, "; latency to %s@%s %s", a.worstClients.names, a.worstClients.cluster.name, ms(a.worstLatency))
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
