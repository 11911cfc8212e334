package decide

import "fmt"

// Judgement is what policy says of one move a person asks for.
type Judgement struct {
	// Refusals are the reasons policy refuses the move, in the words of a plan; none
	// when it allows it.
	Refusals []string `json:"refusals,omitempty"`
	// Candidate is the destination as the plan would weigh it: its numbers, or why it
	// is not feasible.
	Candidate Candidate `json:"candidate"`
}

// Judge applies to a move by hand (gitmig migrate) the rules a plan applies to its own
// decisions: the service runs in exactly one cluster, from, and is neither pinned,
// cooling down nor migrating already; a slot of policy.maxConcurrent is free; and to
// passes every destination filter (metrics known and not overloaded, capacity within
// policy.target, tier, cooldown, entry points, maxLatencyMs, reachable dependencies).
// Like NewPlan it reads no clock: the evaluation time is the snapshot's. Without
// metrics the destination's capacity cannot be weighed, which is a refusal: gitmig
// moves nothing on missing data unless told to.
func Judge(in Input, service, from, to string) Judgement {
	e := newEngine(in)
	s := e.service(service)
	src, dest := e.byName[from], e.byName[to]
	var j Judgement
	refuse := func(format string, args ...any) { j.Refusals = append(j.Refusals, fmt.Sprintf(format, args...)) }
	switch {
	case s == nil:
		refuse("service %s is not in gitmig.yaml", service)
		return j
	case src == nil || dest == nil:
		refuse("%s→%s: both clusters must be in gitmig.yaml", from, to)
		return j
	case src == dest:
		refuse("%s already runs in %s", service, to)
		return j
	case len(s.running) == 1 && !s.runsIn(src):
		refuse("%s does not run in %s but in %s", service, from, s.running[0].name)
	}
	if reason := e.immovable(s); reason != "" {
		refuse("%s", reason)
	}
	if e.budget <= 0 {
		refuse("%s", e.budgetReason())
	}
	w, sized := e.loadIn(s, src)
	if !sized && src.state != StateUnknown {
		refuse("no usage metrics for %s/%s in %s: what it would add to %s is unknown", s.cfg.Namespace, s.cfg.Name, from, to)
	}
	a := e.assess(s, src, dest, w, true)
	j.Candidate = e.candidate(a)
	j.Refusals = append(j.Refusals, a.problems...)
	return j
}
