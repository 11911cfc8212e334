package decide_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/decide"
)

func TestJudgeAppliesThePlansRulesToAMoveByHand(t *testing.T) {
	for _, tt := range []struct {
		name      string
		edit      func(*fixture)
		service   string
		from, to  string
		refusals  []string
		feasible  bool
		candidate string
	}{
		{name: "allowed", service: "orc8r", from: "edge", to: "cloud", feasible: true, candidate: "after the move cpu used"},
		{name: "pinned, and a tier not allowed", service: "agw", from: "edge", to: "cloud",
			refusals: []string{"pinned to edge in gitmig.yaml", "tier cloud is not in the service's tiers [edge]"}},
		{name: "over target", service: "orc8r", from: "edge", to: "fog",
			refusals: []string{"cpu requested after the move 3.30/4.00 = 0.82 > target 0.70"}},
		{name: "past maxLatencyMs", service: "orc8r", from: "edge", to: "cloud",
			edit:     func(f *fixture) { f.cfg.Services[0].MaxLatencyMS = new(float64(10)) },
			refusals: []string{"latency to agw in edge is 20ms > maxLatencyMs 10ms"}},
		{name: "no slot free", service: "orc8r", from: "edge", to: "cloud",
			edit: func(f *fixture) {
				f.inFlight = []decide.Migration{{Service: "other", From: "fog", To: "cloud", Step: 2}}
			},
			refusals: []string{"policy.maxConcurrent 1 reached (1 in flight, 0 decided now)"}},
		{name: "migrating already", service: "orc8r", from: "edge", to: "cloud",
			edit: func(f *fixture) {
				f.inFlight = []decide.Migration{{Service: "orc8r", From: "edge", To: "fog", Step: 1}}
			},
			refusals: []string{"already migrating edge→fog (step 1 of 4)"}},
		{name: "cooling down", service: "orc8r", from: "edge", to: "cloud",
			edit: func(f *fixture) {
				f.cooldowns = []decide.Cooldown{{Service: "orc8r", Cluster: "cloud", Until: evaluatedAt().Add(time.Hour)}}
			},
			refusals: []string{"orc8r→cloud cooling down until 2026-05-04T10:00:00Z"}},
		{name: "not where it runs", service: "orc8r", from: "fog", to: "cloud",
			refusals: []string{"orc8r does not run in fog but in edge"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.edit != nil {
				tt.edit(f)
			}
			j := decide.Judge(f.input(), tt.service, tt.from, tt.to)
			got := strings.Join(j.Refusals, "\n")
			for _, want := range tt.refusals {
				if !strings.Contains(got, want) {
					t.Errorf("refusals:\n%s\nwant %q among them", got, want)
				}
			}
			if len(tt.refusals) == 0 && len(j.Refusals) > 0 {
				t.Errorf("refused an allowed move: %q", j.Refusals)
			}
			if tt.feasible && (!j.Candidate.Feasible || j.Candidate.Cluster != tt.to || !strings.Contains(j.Candidate.Why, tt.candidate)) {
				t.Errorf("candidate %+v, want %s feasible, %q", j.Candidate, tt.to, tt.candidate)
			}
		})
	}
}

func TestJudgeRefusesWithoutMetrics(t *testing.T) {
	in := newFixture(t).input()
	in.Metrics = nil
	j := decide.Judge(in, "orc8r", "edge", "cloud")
	if len(j.Refusals) == 0 || !strings.Contains(strings.Join(j.Refusals, "\n"), "metrics Unknown (no metrics)") {
		t.Errorf("a move weighed on no metrics: %q", j.Refusals)
	}
}

// A move completed within policy.sustain is credited: the metrics that still count
// orc8r in edge do not make edge overloaded again, so nothing else leaves it.
func TestRecentMoveIsCreditedUntilTheWindowPasses(t *testing.T) {
	f := newFixture(t)
	f.cfg = parseConfig(t, strings.Replace(exampleConfig, "gitops:", `  - {name: nms, namespace: nms-ns, base: base/nms, tiers: [edge, fog, cloud]}
gitops:`, 1))
	f.fleet.Running = map[string][]string{"orc8r": {"cloud"}, "agw": {"edge"}, "nms": {"edge"}}
	f.fleet.Ports["nms"] = nil
	f.workloads = append(f.workloads, wl("edge", "nms-ns", "nms", 0.5, 0.5, 1, 1))

	stale := decide.NewPlan(f.input())
	if len(stale.Decisions) != 1 || stale.Decisions[0].Service != "nms" {
		t.Fatalf("without the credit, the stale metrics should move nms off edge: %+v", stale.Decisions)
	}
	in := f.input()
	in.Recent = []decide.Migration{{Service: "orc8r", From: "edge", To: "cloud", Step: 4}}
	plan := decide.NewPlan(in)
	if len(plan.Decisions) != 0 {
		t.Errorf("a move completed within the window did not count: %+v", plan.Decisions)
	}
}
