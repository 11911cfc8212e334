package decide_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/traffic"
)

func TestOverloadedEdgeMovesOrc8rToCloud(t *testing.T) {
	p := newFixture(t).plan()
	wantMoves(t, p, "orc8r edge→cloud")
	d := p.Decisions[0]
	wantContains(t, "reason", d.Reason, "edge Overloaded: sustained cpu 7.10/8.00 = 0.89 > 0.80 over 10m", "brings it to cpu 0.49")
	if c := candidate(t, d, "cloud"); !c.Feasible || c.Score <= 0 {
		t.Errorf("cloud = %+v, want feasible with a score", c)
	}
	fog := candidate(t, d, "fog")
	if fog.Feasible {
		t.Errorf("fog is feasible, but 4 cores cannot take orc8r's 3 requested within the 0.70 target")
	}
	wantContains(t, "fog's why", fog.Why, "cpu requested after the move 3.30/4.00 = 0.82 > target 0.70")
	wantContains(t, "edge's why", candidate(t, d, "edge").Why, "current cluster; edge Overloaded")
	if d.Candidates[0].Cluster != "cloud" {
		t.Errorf("candidates start with %s, want the chosen cloud first", d.Candidates[0].Cluster)
	}
	if got := clusterState(t, p, "edge"); got.State != decide.StateOverloaded || got.CPU.Utilization != 0.8875 {
		t.Errorf("edge = %+v, want Overloaded at 0.8875", got)
	}
	wantContains(t, "agw's reason", skipReason(t, p, "agw"), "pinned to edge")
}

func TestShortSpikeDoesNotTrigger(t *testing.T) {
	f := newFixture(t)
	// 7.1 cores now, but at some point of the window only 5: a spike, not a trend.
	f.sustained["edge"] = 5.0
	p := f.plan()
	wantMoves(t, p)
	if got := clusterState(t, p, "edge").State; got != decide.StateOK {
		t.Errorf("edge state = %s, want OK: the spike did not hold over the window", got)
	}
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "edge OK (sustained cpu 0.62 ≤ 0.80")
}

func TestUnknownMetricsNeverTriggerAMove(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*metrics.Snapshot)
		why  string
	}{
		{"NaN", func(s *metrics.Snapshot) { s.Clusters[0].CPU.Sustained = math.NaN() }, "cpu metrics hold NaN"},
		{"Inf capacity", func(s *metrics.Snapshot) { s.Clusters[0].Memory.Capacity = math.Inf(1) }, "memory metrics hold +Inf"},
		{"empty", func(s *metrics.Snapshot) { s.Clusters = s.Clusters[1:] }, "the metrics snapshot has no entry for this cluster"},
		{"error", func(s *metrics.Snapshot) {
			s.Clusters[0].State, s.Clusters[0].Why = metrics.StateUnknown, "Prometheus warned on cpuUsage: partial response"
		}, "partial response"},
		{"short window", func(s *metrics.Snapshot) { s.Sustain = config.Duration{Duration: 5 * time.Minute} }, "covers 5m, less than policy.sustain 10m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.edit = func(s *metrics.Snapshot) {
				if s.Clusters[0].Name != "edge" {
					t.Fatalf("fixture order changed: %s first", s.Clusters[0].Name)
				}
				tc.edit(s)
			}
			p := f.plan()
			wantMoves(t, p)
			edge := clusterState(t, p, "edge")
			if edge.State != metrics.StateUnknown {
				t.Fatalf("edge state = %s, want Unknown", edge.State)
			}
			wantContains(t, "edge's why", edge.Why, tc.why)
			wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "edge metrics Unknown", "Unknown never triggers a move")
		})
	}
}

func TestNoMetricsAtAllIsUnknown(t *testing.T) {
	f := newFixture(t)
	in := f.input()
	in.Metrics = nil
	p := decide.NewPlan(in)
	wantMoves(t, p)
	for _, c := range p.Clusters {
		if c.State != metrics.StateUnknown {
			t.Errorf("%s state = %s, want Unknown without metrics", c.Name, c.State)
		}
	}
}

func TestUnknownIsNeverFreeCapacity(t *testing.T) {
	f := newFixture(t)
	f.edit = func(s *metrics.Snapshot) {
		s.Clusters[0], s.Clusters[2] = s.Clusters[2], s.Clusters[0]
		for i := range s.Clusters {
			if s.Clusters[i].Name == "cloud" {
				s.Clusters[i].State, s.Clusters[i].Why = metrics.StateUnknown, "no cpu usage series"
			}
		}
	}
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "edge Overloaded", "no cluster can take orc8r", "cloud: metrics Unknown (no cpu usage series)")
}

func TestDestinationWithoutEntryPointForAPortIsInfeasible(t *testing.T) {
	f := newFixture(t)
	delete(f.cluster("cloud").Ingress.EntryPoints, "api")
	// A bigger fog can take orc8r, so the plan shows cloud among the candidates.
	f.cluster("fog").Capacity = &config.Capacity{CPU: "16", Memory: "32Gi"}
	p := f.plan()
	wantMoves(t, p, "orc8r edge→fog")
	cloud := candidate(t, p.Decisions[0], "cloud")
	if cloud.Feasible {
		t.Fatal("cloud is feasible without an entry point for port 9443")
	}
	wantContains(t, "cloud's why", cloud.Why, "port api 9443 (http): no entry point on port 9443")
}

func TestSCTPPortsCannotBeRouted(t *testing.T) {
	f := newFixture(t)
	f.fleet.Ports["orc8r"] = append(f.fleet.Ports["orc8r"], decide.Port{Name: "s1ap", Port: 36412, Protocol: "SCTP"})
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: port s1ap 36412: protocol SCTP: Traefik carries TCP and UDP only")
}

// A port needs an entry point of the protocol its kind of route needs: a TLS port a
// tls one, which cloud gets in the second run.
func TestEntryPointProtocolDecides(t *testing.T) {
	f := newFixture(t)
	f.fleet.Ports["orc8r"][0].AppProtocol = "tls"
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"),
		"cloud: port controller 8443 (tls): entry point controller on port 8443 is http, not tls as the port's tls route needs")

	f.cluster("cloud").Ingress.EntryPoints["controller"] = config.EntryPoint{Port: 8443, Protocol: "tls"}
	wantMoves(t, f.plan(), "orc8r edge→cloud")

	f.fleet.Ports["orc8r"] = append(f.fleet.Ports["orc8r"], decide.Port{Name: "stats", Port: 8125, Protocol: "UDP"})
	f.cluster("cloud").Ingress.EntryPoints["stats"] = config.EntryPoint{Port: 8125, Protocol: "tcp"}
	p = f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: port stats 8125 (udp): entry point stats on port 8125 is tcp, not udp as the port's udp route needs")
}

// A TCP port's route takes every connection of its entry point: a destination where
// another service holds that entry point, from the builds, from a migration in flight
// or from a decision of the same plan, cannot take it.
func TestTCPEntryPointsServeOneService(t *testing.T) {
	withDB := func(t *testing.T) *fixture {
		f := twoEdges(t, "12")
		for _, svc := range []string{"svc-a", "svc-b"} {
			f.fleet.Ports[svc] = append(f.fleet.Ports[svc], decide.Port{Name: "db", Port: 5432, Protocol: "TCP", AppProtocol: "tcp"})
		}
		for _, cl := range []string{"edge-a", "edge-b", "cloud"} {
			f.cluster(cl).Ingress.EntryPoints["db"] = config.EntryPoint{Port: 5432, Protocol: "tcp"}
		}
		return f
	}
	t.Run("free", func(t *testing.T) {
		f := withDB(t)
		f.fleet.Ports["svc-b"] = f.fleet.Ports["svc-b"][:1]
		wantMoves(t, f.plan(), "svc-a edge-a→cloud", "svc-b edge-b→cloud")
	})
	t.Run("decided in the same plan", func(t *testing.T) {
		p := withDB(t).plan()
		wantMoves(t, p, "svc-a edge-a→cloud")
		wantContains(t, "svc-b's reason", skipReason(t, p, "svc-b"),
			"cloud: port db 5432 (tcp): its route would take every connection of entry point db, which already routes a/svc-a")
	})
	t.Run("in flight", func(t *testing.T) {
		f := withDB(t)
		f.inFlight = []decide.Migration{{Service: "svc-a", From: "edge-a", To: "cloud", Step: 1}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "svc-b's reason", skipReason(t, p, "svc-b"), "which already routes a/svc-a")
	})
	t.Run("held in the builds", func(t *testing.T) {
		f := withDB(t)
		f.fleet.EntryPoints = map[string]map[string]traffic.EntryPointUse{
			"cloud": {"db": {Services: []string{"ops/postgres"}, CatchAll: true}, "web": {Services: []string{"ops/grafana"}}},
		}
		p := f.plan()
		wantMoves(t, p)
		for _, svc := range []string{"svc-a", "svc-b"} {
			wantContains(t, svc+"'s reason", skipReason(t, p, svc), "which already routes ops/postgres")
		}
	})
	t.Run("its own route", func(t *testing.T) {
		// A move back finds the route it left there itself.
		f := withDB(t)
		f.fleet.Ports["svc-b"] = f.fleet.Ports["svc-b"][:1]
		f.fleet.EntryPoints = map[string]map[string]traffic.EntryPointUse{"cloud": {"db": {Services: []string{"a/svc-a"}, CatchAll: true}}}
		wantMoves(t, f.plan(), "svc-a edge-a→cloud", "svc-b edge-b→cloud")
	})
	t.Run("an HTTP port where a catch-all route holds the entry point", func(t *testing.T) {
		f := withDB(t)
		f.fleet.Ports["svc-a"], f.fleet.Ports["svc-b"] = f.fleet.Ports["svc-a"][:1], f.fleet.Ports["svc-b"][:1]
		f.fleet.EntryPoints = map[string]map[string]traffic.EntryPointUse{"cloud": {"web": {Services: []string{"ops/proxy"}, CatchAll: true}}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "svc-a's reason", skipReason(t, p, "svc-a"), "cloud: port http 80 (http): a HostSNI(`*`) or UDP route takes every connection of entry point web, for ops/proxy")
	})
}

func TestLatencyBound(t *testing.T) {
	f := newFixture(t)
	f.service("orc8r").MaxLatencyMS = ptr(15.0)
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: latency to agw in edge is 20ms > maxLatencyMs 15ms")
}

func TestUnknownLatencyFailsABound(t *testing.T) {
	f := newFixture(t)
	f.cfg.Latency = f.cfg.Latency[:1] // edge-fog only
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "latency between edge (clients agw) and cloud is not in gitmig.yaml")
}

func TestTierAllowList(t *testing.T) {
	f := newFixture(t)
	f.service("orc8r").Tiers = []string{"edge", "fog"}
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: tier cloud is not in the service's tiers [edge fog]")
}

func TestPinnedNeverMoves(t *testing.T) {
	f := newFixture(t)
	f.service("orc8r").Pinned = true
	p := f.plan()
	wantMoves(t, p)
	wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "pinned to edge in gitmig.yaml")
}

func TestCooldown(t *testing.T) {
	at := evaluatedAt()
	t.Run("pair", func(t *testing.T) {
		f := newFixture(t)
		f.cooldowns = []decide.Cooldown{{Service: "orc8r", Cluster: "cloud", Until: at.Add(30 * time.Minute)}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: orc8r→cloud cooling down until 2026-05-04T09:30:00Z")
	})
	t.Run("other pair", func(t *testing.T) {
		f := newFixture(t)
		f.cooldowns = []decide.Cooldown{{Service: "orc8r", Cluster: "fog", Until: at.Add(30 * time.Minute)}}
		wantMoves(t, f.plan(), "orc8r edge→cloud")
	})
	t.Run("expired", func(t *testing.T) {
		f := newFixture(t)
		f.cooldowns = []decide.Cooldown{{Service: "orc8r", Until: at}}
		wantMoves(t, f.plan(), "orc8r edge→cloud")
	})
	t.Run("any destination", func(t *testing.T) {
		f := newFixture(t)
		f.cooldowns = []decide.Cooldown{{Service: "orc8r", Until: at.Add(time.Minute)}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cooling down until 2026-05-04T09:01:00Z")
	})
}

func TestDependencyReachability(t *testing.T) {
	// orc8r calls db, which runs in edge: from cloud, orc8r reaches it only through a
	// Traefik route in edge.
	setup := func(t *testing.T) *fixture {
		f := newFixture(t)
		f.cfg.Services = append(f.cfg.Services, config.Service{Name: "db", Namespace: "db-ns", Base: "base/db", Clients: []string{"orc8r"}, Pinned: true})
		f.fleet.Running["db"] = []string{"edge"}
		return f
	}
	t.Run("unreachable", func(t *testing.T) {
		p := setup(t).plan()
		wantMoves(t, p)
		wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud: calls db, unreachable from cloud: runs in edge without a Traefik route to it")
	})
	t.Run("routed where it runs", func(t *testing.T) {
		f := setup(t)
		f.fleet.Routed["db"] = []string{"edge"}
		wantMoves(t, f.plan(), "orc8r edge→cloud")
	})
	t.Run("routed where it does not run", func(t *testing.T) {
		f := setup(t)
		f.fleet.Routed["db"] = []string{"fog"}
		wantMoves(t, f.plan())
	})
	t.Run("runs at the destination too", func(t *testing.T) {
		f := setup(t)
		f.fleet.Running["db"] = []string{"cloud", "edge"}
		wantMoves(t, f.plan(), "orc8r edge→cloud")
	})
}

// twoEdges is a fleet of two overloaded edge clusters and a cloud small enough that it
// can take only one of their services within target.
func twoEdges(t *testing.T, cloudCPU string) *fixture {
	f := &fixture{t: t, sustained: map[string]float64{}}
	f.cfg = parseConfig(t, `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: edge-a, tier: edge, capacity: {cpu: "8", memory: 16Gi}, ingress: {dnsName: a.test, entryPoints: {web: 80}}}
  - {name: edge-b, tier: edge, capacity: {cpu: "8", memory: 16Gi}, ingress: {dnsName: b.test, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, capacity: {cpu: "`+cloudCPU+`", memory: 64Gi}, ingress: {dnsName: c.test, entryPoints: {web: 80}}}
services:
  - {name: svc-a, namespace: a, base: base/a}
  - {name: svc-b, namespace: b, base: base/b}
  - {name: hog-a, namespace: a, base: base/hog-a, pinned: true}
  - {name: hog-b, namespace: b, base: base/hog-b, pinned: true}
policy: {maxConcurrent: 2}
gitops: {remote: /tmp/fleet.git}
`)
	f.fleet = decide.Fleet{
		Running: map[string][]string{"svc-a": {"edge-a"}, "svc-b": {"edge-b"}, "hog-a": {"edge-a"}, "hog-b": {"edge-b"}},
		Ports:   map[string][]decide.Port{"svc-a": {{Name: "http", Port: 80}}, "svc-b": {{Name: "http", Port: 80}}},
	}
	f.workloads = []metrics.WorkloadMetrics{
		wl("edge-a", "a", "svc-a", 3.2, 3, 1, 1),
		wl("edge-a", "a", "hog-a", 4.0, 2, 1, 1), // edge-a: 7.2/8 = 0.90
		wl("edge-b", "b", "svc-b", 3.2, 3, 1, 1),
		wl("edge-b", "b", "hog-b", 3.7, 2, 1, 1), // edge-b: 6.9/8 = 0.86
		wl("cloud", "kube-system", "coredns", 1, 1, 1, 1),
	}
	return f
}

func TestTwoSourcesNeverBothTakeADestinationForOne(t *testing.T) {
	// cloud: 1 core used; one move makes 4.2/8 = 0.53, two would make 7.4/8 = 0.93.
	p := twoEdges(t, "8").plan()
	wantMoves(t, p, "svc-a edge-a→cloud")
	wantContains(t, "svc-b's reason", skipReason(t, p, "svc-b"),
		"edge-b Overloaded", "cloud: cpu used after the move 7.40/8.00 = 0.93 > target 0.70")
}

func TestInFlightMigrationsReserveTheirDestination(t *testing.T) {
	t.Run("reserved", func(t *testing.T) {
		f := twoEdges(t, "8")
		// svc-a is on its way to cloud but cloud's metrics do not show it yet.
		f.inFlight = []decide.Migration{{Service: "svc-a", From: "edge-a", To: "cloud", Step: 1}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "svc-a's reason", skipReason(t, p, "svc-a"), "already migrating edge-a→cloud (step 1 of 4)")
		wantContains(t, "svc-b's reason", skipReason(t, p, "svc-b"), "cloud: cpu used after the move 7.40/8.00 = 0.93 > target 0.70")
	})
	t.Run("counted once", func(t *testing.T) {
		// 12 cores: both fit (7.4/12 = 0.62), but counting svc-a twice would not.
		f := twoEdges(t, "12")
		f.workloads = append(f.workloads, wl("cloud", "a", "svc-a", 3.2, 3, 1, 1))
		f.fleet.Running["svc-a"] = []string{"cloud", "edge-a"}
		f.inFlight = []decide.Migration{{Service: "svc-a", From: "edge-a", To: "cloud", Step: 2}}
		wantMoves(t, f.plan(), "svc-b edge-b→cloud")
	})
	t.Run("unsized", func(t *testing.T) {
		f := twoEdges(t, "64")
		f.workloads = slices.DeleteFunc(f.workloads, func(w metrics.WorkloadMetrics) bool { return w.Name == "svc-a" })
		f.inFlight = []decide.Migration{{Service: "svc-a", From: "edge-a", To: "cloud", Step: 1}}
		p := f.plan()
		wantMoves(t, p)
		wantContains(t, "svc-b's reason", skipReason(t, p, "svc-b"), "migrations in flight to cloud have no known size (svc-a from edge-a)")
	})
	t.Run("source relief", func(t *testing.T) {
		// svc-a leaving edge-a brings it to target: nothing else has to move from it.
		f := twoEdges(t, "64")
		f.fleet.Running["hog-a"] = []string{"edge-a"}
		f.cfg.Services[2].Pinned = false
		f.inFlight = []decide.Migration{{Service: "svc-a", From: "edge-a", To: "cloud", Step: 3}}
		p := f.plan()
		wantMoves(t, p, "svc-b edge-b→cloud")
		wantContains(t, "hog-a's reason", skipReason(t, p, "hog-a"), "migrations in flight already bring it to target")
	})
}

func TestPicksTheSmallestServiceThatSuffices(t *testing.T) {
	f := newFixture(t)
	f.cfg.Policy.MaxConcurrent = 3
	f.service("agw").Pinned = false
	f.service("agw").Tiers = nil
	f.service("orc8r").Clients = nil // else agw, calling orc8r, could leave only with it
	f.fleet.Ports["agw"] = []decide.Port{{Name: "health", Port: 80}}
	// edge uses 7.1 of 8 cores; 1.5 must go to reach 0.70. orc8r (3.2) suffices and is
	// smaller than agw (3.6).
	p := f.plan()
	wantMoves(t, p, "orc8r edge→cloud")
	wantContains(t, "agw's reason", skipReason(t, p, "agw"), "moving orc8r already brings it to target")

	// When no single service suffices, the biggest goes first and the next follows:
	// with a 0.30 target, 7.7 - 2.4 = 5.3 cores must leave edge.
	f.cfg.Policy.Target.CPU = 0.3
	f.workloads[0].CPU.Usage, f.workloads[1].CPU.Usage = 3.8, 3.6 // agw, orc8r
	p = f.plan()
	wantMoves(t, p, "agw edge→cloud", "orc8r edge→cloud")
}

func TestStickinessMargin(t *testing.T) {
	// orc8r now runs in cloud, its client agw in edge, and edge has room again.
	moveBack := func(t *testing.T, stickiness float64) *fixture {
		f := newFixture(t)
		f.cfg.Policy.Stickiness = stickiness
		f.fleet.Running["orc8r"] = []string{"cloud"}
		f.workloads = []metrics.WorkloadMetrics{
			wl("edge", "agw-ns", "agw", 1, 1, 1, 1),
			wl("edge", "kube-system", "coredns", 0.3, 0.2, 0.75, 0.25),
			wl("fog", "kube-system", "coredns", 0.4, 0.3, 0.8, 0.5),
			wl("cloud", "orc8r-ns", "orc8r", 1, 1, 1, 1),
			wl("cloud", "kube-system", "coredns", 4, 6, 41, 48),
		}
		return f
	}
	// Scores: edge 79.46 (close to agw, 0.29 of its cpu used after the move), cloud
	// 47.24 plus the stickiness.
	t.Run("within the margin stays", func(t *testing.T) {
		p := moveBack(t, 40).plan()
		wantMoves(t, p)
		wantContains(t, "orc8r's reason", skipReason(t, p, "orc8r"), "cloud OK", "the best closer cluster edge scores 79.46, not above staying at 87.24 (stickiness 40 included)")
	})
	t.Run("beyond the margin moves back", func(t *testing.T) {
		p := moveBack(t, 25).plan()
		wantMoves(t, p, "orc8r cloud→edge")
		d := p.Decisions[0]
		wantContains(t, "reason", d.Reason, "move back to the closer edge tier: edge scores 79.46, above staying in cloud at 72.24")
		if stay := candidate(t, d, "cloud"); !stay.Feasible || stay.Score != 72.24 {
			t.Errorf("staying = %+v, want feasible at 72.24", stay)
		}
	})
	t.Run("hysteresis: never back above target", func(t *testing.T) {
		// edge at 4.8/8 = 0.60 is under overload, but orc8r would bring it to
		// 5.8/8 = 0.725 > 0.70.
		f := moveBack(t, 0)
		f.workloads[0].CPU.Usage = 4.5
		p := f.plan()
		if slices.ContainsFunc(p.Decisions, func(d decide.Decision) bool { return d.To == "edge" }) {
			t.Fatalf("orc8r moves back to edge above target: %+v", p.Decisions)
		}
	})
}

func TestMaxConcurrent(t *testing.T) {
	threeEdges := func(t *testing.T, maxConcurrent int, inFlight ...decide.Migration) *fixture {
		f := &fixture{t: t, sustained: map[string]float64{}, inFlight: inFlight}
		f.cfg = parseConfig(t, `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: e1, tier: edge, capacity: {cpu: "4", memory: 16Gi}, ingress: {dnsName: e1.test, entryPoints: {web: 80}}}
  - {name: e2, tier: edge, capacity: {cpu: "4", memory: 16Gi}, ingress: {dnsName: e2.test, entryPoints: {web: 80}}}
  - {name: e3, tier: edge, capacity: {cpu: "4", memory: 16Gi}, ingress: {dnsName: e3.test, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, capacity: {cpu: "64", memory: 64Gi}, ingress: {dnsName: c.test, entryPoints: {web: 80}}}
services:
  - {name: s1, namespace: apps, base: base/s1}
  - {name: s2, namespace: apps, base: base/s2}
  - {name: s3, namespace: apps, base: base/s3}
  - {name: x, namespace: apps, base: base/x}
gitops: {remote: /tmp/fleet.git}
`)
		f.cfg.Policy.MaxConcurrent = maxConcurrent
		f.fleet = decide.Fleet{Running: map[string][]string{"s1": {"e1"}, "s2": {"e2"}, "s3": {"e3"}, "x": {"cloud"}}}
		f.workloads = []metrics.WorkloadMetrics{
			wl("e1", "apps", "s1", 3.9, 1, 1, 1), // e1 is the most overloaded
			wl("e2", "apps", "s2", 3.6, 1, 1, 1),
			wl("e3", "apps", "s3", 3.7, 1, 1, 1),
			wl("cloud", "apps", "x", 1, 1, 1, 1),
		}
		return f
	}
	p := threeEdges(t, 2).plan()
	wantMoves(t, p, "s1 e1→cloud", "s3 e3→cloud")
	wantContains(t, "s2's reason", skipReason(t, p, "s2"), "policy.maxConcurrent 2 reached (0 in flight, 2 decided now)")

	x := decide.Migration{Service: "x", From: "cloud", To: "e1", Step: 1}
	wantMoves(t, threeEdges(t, 2, x).plan(), "s1 e1→cloud")
	p = threeEdges(t, 1, x).plan()
	wantMoves(t, p)
	wantContains(t, "s1's reason", skipReason(t, p, "s1"), "policy.maxConcurrent 1 reached (1 in flight, 0 decided now)")
}

func TestEveryServiceIsDecidedOrSkippedOnce(t *testing.T) {
	f := newFixture(t)
	f.cfg.Services = append(f.cfg.Services,
		config.Service{Name: "ghost", Namespace: "g", Base: "base/ghost"},
		config.Service{Name: "twice", Namespace: "t", Base: "base/twice"},
	)
	f.fleet.Running["twice"] = []string{"fog", "edge"}
	p := f.plan()
	seen := map[string]int{}
	for _, d := range p.Decisions {
		seen[d.Service]++
	}
	for _, s := range p.Skipped {
		seen[s.Service]++
	}
	for _, s := range f.cfg.Services {
		if seen[s.Name] != 1 {
			t.Errorf("%s appears %d times in the plan, want once", s.Name, seen[s.Name])
		}
	}
	wantContains(t, "ghost's reason", skipReason(t, p, "ghost"), "runs in no cluster's overlay")
	wantContains(t, "twice's reason", skipReason(t, p, "twice"), "runs in edge, fog: gitmig moves a service that runs in exactly one cluster")
}

func TestSameInputSameBytes(t *testing.T) {
	f := newFixture(t)
	f.cfg.Policy.MaxConcurrent = 3
	for _, name := range []string{"alpha", "bravo", "charlie", "delta"} {
		f.cfg.Services = append(f.cfg.Services, config.Service{Name: name, Namespace: "ns-" + name, Base: "base/" + name, Clients: []string{"agw"}})
		f.fleet.Running[name] = []string{"edge"}
		f.fleet.Ports[name] = []decide.Port{{Name: "http", Port: 80}}
		// Identical services: only the tie-break by name can order them.
		f.workloads = append(f.workloads, wl("edge", "ns-"+name, name, 0.5, 0.5, 0.5, 0.5))
	}
	f.cooldowns = []decide.Cooldown{{Service: "bravo", Cluster: "cloud", Until: evaluatedAt().Add(time.Hour)}}
	reference := planJSON(t, decide.NewPlan(f.input()))

	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		in := f.input()
		cfg := *in.Config
		cfg.Clusters = slices.Clone(cfg.Clusters)
		cfg.Services = slices.Clone(cfg.Services)
		cfg.Latency = slices.Clone(cfg.Latency)
		rng.Shuffle(len(cfg.Clusters), func(i, j int) { cfg.Clusters[i], cfg.Clusters[j] = cfg.Clusters[j], cfg.Clusters[i] })
		rng.Shuffle(len(cfg.Services), func(i, j int) { cfg.Services[i], cfg.Services[j] = cfg.Services[j], cfg.Services[i] })
		rng.Shuffle(len(cfg.Latency), func(i, j int) { cfg.Latency[i], cfg.Latency[j] = cfg.Latency[j], cfg.Latency[i] })
		in.Config = &cfg
		rng.Shuffle(len(in.Metrics.Clusters), func(i, j int) {
			in.Metrics.Clusters[i], in.Metrics.Clusters[j] = in.Metrics.Clusters[j], in.Metrics.Clusters[i]
		})
		rng.Shuffle(len(in.Metrics.Workloads), func(i, j int) {
			in.Metrics.Workloads[i], in.Metrics.Workloads[j] = in.Metrics.Workloads[j], in.Metrics.Workloads[i]
		})
		if got := planJSON(t, decide.NewPlan(in)); !bytes.Equal(got, reference) {
			t.Fatalf("run %d: the plan of a reordered input differs:\n%s\nwant:\n%s", i, got, reference)
		}
	}
	// edge uses 9.1 cores: orc8r goes first, then one of the identical services must
	// follow; the tie breaks by name, and fog takes it, being closer to agw than cloud.
	wantMoves(t, decide.NewPlan(f.input()), "orc8r edge→cloud", "alpha edge→fog")
}

func planJSON(t *testing.T, p decide.Plan) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := present.PlanJSON(&b, p); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
