package decide_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/present"
)

const gi = float64(1 << 30)

// evaluatedAt is the evaluation time of every fixture snapshot.
func evaluatedAt() time.Time { return time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC) }

// exampleConfig is the example fleet of gitmig.yaml, kept here so the tests do not
// change when the example does.
const exampleConfig = `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - name: edge
    tier: edge
    capacity: {cpu: "8", memory: 16Gi}
    ingress: {dnsName: edge.test.internal, entryPoints: {web: 80, controller: 8443, api: 9443}}
  - name: fog
    tier: fog
    capacity: {cpu: "4", memory: 8Gi}
    ingress: {dnsName: fog.test.internal, entryPoints: {web: 80, controller: 8443, api: 9443}}
  - name: cloud
    tier: cloud
    capacity: {cpu: "64", memory: 256Gi}
    ingress: {dnsName: cloud.test.internal, entryPoints: {web: 80, controller: 8443, api: 9443}}
latency:
  - {between: [edge, fog], ms: 5}
  - {between: [edge, cloud], ms: 20}
  - {between: [fog, cloud], ms: 15}
services:
  - name: orc8r
    namespace: orc8r-ns
    base: base/orc8r
    clients: [agw]
    maxLatencyMs: 25
    tiers: [edge, fog, cloud]
  - name: agw
    namespace: agw-ns
    base: base/agw
    tiers: [edge]
    pinned: true
gitops: {remote: /tmp/fleet.git}
`

// fixture is a plan input that tests change one aspect of at a time.
type fixture struct {
	t         *testing.T
	cfg       *config.Config
	fleet     decide.Fleet
	workloads []metrics.WorkloadMetrics
	// sustained overrides a cluster's sustained cpu usage; the default is its current usage.
	sustained map[string]float64
	inFlight  []decide.Migration
	cooldowns []decide.Cooldown
	// edit changes the snapshot after it is built.
	edit func(*metrics.Snapshot)
}

func parseConfig(t *testing.T, doc string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(nil); err != nil {
		t.Fatalf("fixture config is invalid: %v", err)
	}
	return cfg
}

// newFixture is the example fleet with edge overloaded for the whole window: orc8r and
// agw use 7.1 of edge's 8 cores.
func newFixture(t *testing.T) *fixture {
	return &fixture{
		t:   t,
		cfg: parseConfig(t, exampleConfig),
		fleet: decide.Fleet{
			Running: map[string][]string{"orc8r": {"edge"}, "agw": {"edge"}},
			Routed:  map[string][]string{},
			Ports: map[string][]decide.Port{
				"orc8r": {{Name: "controller", Port: 8443, Protocol: "TCP"}, {Name: "api", Port: 9443, Protocol: "TCP"}},
				"agw":   {{Name: "s1ap", Port: 36412, Protocol: "SCTP"}, {Name: "health", Port: 8080, Protocol: "TCP"}},
			},
		},
		workloads: []metrics.WorkloadMetrics{
			wl("edge", "agw-ns", "agw", 3.6, 2, 4, 4),
			wl("edge", "orc8r-ns", "orc8r", 3.2, 3, 3, 4),
			wl("edge", "kube-system", "coredns", 0.3, 0.2, 0.75, 0.25),
			wl("fog", "kube-system", "coredns", 0.4, 0.3, 0.8, 0.5),
			wl("cloud", "kube-system", "coredns", 4, 6, 41, 48),
		},
		sustained: map[string]float64{},
	}
}

// wl is a workload's cpu usage and requests in cores and memory in GiB.
func wl(cluster, namespace, name string, cpuUsage, cpuRequests, memGiUsage, memGiRequests float64) metrics.WorkloadMetrics {
	return metrics.WorkloadMetrics{
		Cluster: cluster, Namespace: namespace, Name: name,
		CPU:    metrics.WorkloadUsage{Usage: cpuUsage, Requests: cpuRequests},
		Memory: metrics.WorkloadUsage{Usage: memGiUsage * gi, Requests: memGiRequests * gi},
	}
}

// snapshot sums the workloads into cluster totals, with capacities from the config.
func (f *fixture) snapshot() *metrics.Snapshot {
	s := &metrics.Snapshot{
		APIVersion: config.APIVersion, Kind: metrics.SnapshotKind,
		EvaluatedAt: evaluatedAt(), Sustain: f.cfg.Policy.Sustain,
		Workloads: append([]metrics.WorkloadMetrics(nil), f.workloads...),
	}
	for _, cl := range f.cfg.Clusters {
		m := metrics.ClusterMetrics{Name: cl.Name}
		m.CPU.Capacity, _ = cl.CPUCores()
		m.Memory.Capacity, _ = cl.MemoryBytes()
		for _, w := range f.workloads {
			if w.Cluster == cl.Name {
				m.CPU.Used += w.CPU.Usage
				m.CPU.Requests += w.CPU.Requests
				m.Memory.Used += w.Memory.Usage
				m.Memory.Requests += w.Memory.Requests
			}
		}
		m.CPU.Sustained, m.Memory.Sustained = m.CPU.Used, m.Memory.Used
		if v, ok := f.sustained[cl.Name]; ok {
			m.CPU.Sustained = v
		}
		s.Clusters = append(s.Clusters, m)
	}
	if f.edit != nil {
		f.edit(s)
	}
	return s
}

func (f *fixture) input() decide.Input {
	return decide.Input{Config: f.cfg, Fleet: f.fleet, Metrics: f.snapshot(), InFlight: f.inFlight, Cooldowns: f.cooldowns}
}

func (f *fixture) plan() decide.Plan {
	f.t.Helper()
	p := decide.NewPlan(f.input())
	if testing.Verbose() {
		var b bytes.Buffer
		if err := present.PlanTable(&b, p); err != nil {
			f.t.Fatal(err)
		}
		f.t.Log("\n" + b.String())
	}
	return p
}

// service returns the named service of the fixture's config, to change it.
func (f *fixture) service(name string) *config.Service {
	for i := range f.cfg.Services {
		if f.cfg.Services[i].Name == name {
			return &f.cfg.Services[i]
		}
	}
	f.t.Fatalf("no service %q in the fixture", name)
	return nil
}

func (f *fixture) cluster(name string) *config.Cluster {
	for i := range f.cfg.Clusters {
		if f.cfg.Clusters[i].Name == name {
			return &f.cfg.Clusters[i]
		}
	}
	f.t.Fatalf("no cluster %q in the fixture", name)
	return nil
}

// wantMove checks that the plan holds exactly the given moves, as "svc from→to".
func wantMoves(t *testing.T, p decide.Plan, want ...string) {
	t.Helper()
	var got []string
	for _, d := range p.Decisions {
		got = append(got, d.Service+" "+d.From+"→"+d.To)
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("decisions = %q, want %q", got, want)
	}
}

func skipReason(t *testing.T, p decide.Plan, service string) string {
	t.Helper()
	for _, s := range p.Skipped {
		if s.Service == service {
			return s.Reason
		}
	}
	t.Fatalf("service %s is not among the skipped: %+v", service, p.Skipped)
	return ""
}

func candidate(t *testing.T, d decide.Decision, cluster string) decide.Candidate {
	t.Helper()
	for _, c := range d.Candidates {
		if c.Cluster == cluster {
			return c
		}
	}
	t.Fatalf("no candidate %s for %s: %+v", cluster, d.Service, d.Candidates)
	return decide.Candidate{}
}

func clusterState(t *testing.T, p decide.Plan, name string) decide.ClusterStatus {
	t.Helper()
	for _, c := range p.Clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s in the plan", name)
	return decide.ClusterStatus{}
}

func wantContains(t *testing.T, what, got string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("%s = %q\nwant it to contain %q", what, got, p)
		}
	}
}

func ptr[T any](v T) *T { return &v }
