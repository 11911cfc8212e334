package decide_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
)

// largeFleet is 100 clusters (60 edge, 30 fog, 10 cloud) with every pair's latency,
// and 5,000 services spread over them, each called by the next, a fifth of them bound
// by maxLatencyMs, an eleventh pinned; ten edge clusters are overloaded and the fog and
// cloud services are candidates to move back. maxConcurrent is high enough that no
// assessment is cut short: this is the engine's worst case.
func largeFleet(tb testing.TB) (*config.Config, decide.Fleet, []byte) {
	const clusters, services = 100, 5000
	var cfg strings.Builder
	cfg.WriteString("apiVersion: gitmig.dev/v1alpha1\nkind: Config\nclusters:\n")
	tier := func(i int) string {
		switch {
		case i < 60:
			return "edge"
		case i < 90:
			return "fog"
		}
		return "cloud"
	}
	capacity := map[string]float64{"edge": 32, "fog": 64, "cloud": 512}
	name := func(i int) string { return fmt.Sprintf("%s-%02d", tier(i), i) }
	for i := range clusters {
		fmt.Fprintf(&cfg, "  - {name: %s, tier: %s, capacity: {cpu: \"%g\", memory: %gGi}, ingress: {dnsName: c%d.test, entryPoints: {web: 80, websecure: 443, grpc: 8443}}}\n",
			name(i), tier(i), capacity[tier(i)], capacity[tier(i)]*4, i)
	}
	cfg.WriteString("latency:\n")
	for i := range clusters {
		for j := i + 1; j < clusters; j++ {
			fmt.Fprintf(&cfg, "  - {between: [%s, %s], ms: %d}\n", name(i), name(j), 2+(i*7+j*13)%40)
		}
	}
	cfg.WriteString("services:\n")
	fleet := decide.Fleet{Running: map[string][]string{}, Routed: map[string][]string{}, Ports: map[string][]decide.Port{}}
	snap := &metrics.Snapshot{APIVersion: config.APIVersion, Kind: metrics.SnapshotKind, EvaluatedAt: evaluatedAt(),
		Sustain: config.Duration{Duration: 10 * 60 * 1e9}}
	used := make([]float64, clusters)
	requested := make([]float64, clusters)
	svc := func(i int) string { return fmt.Sprintf("svc-%04d", i) }
	for i := range services {
		home := i % clusters
		fmt.Fprintf(&cfg, "  - {name: %s, namespace: ns-%d, base: base/%s, clients: [%s]", svc(i), i%50, svc(i), svc((i+1)%services))
		if i%5 == 0 {
			cfg.WriteString(", maxLatencyMs: 30")
		}
		if i%11 == 3 { // spread over the clusters, which are i%100
			cfg.WriteString(", pinned: true")
		}
		if i%7 == 0 {
			cfg.WriteString(", tiers: [edge, fog]")
		}
		cfg.WriteString("}\n")
		fleet.Running[svc(i)] = []string{name(home)}
		if i%3 == 0 {
			fleet.Routed[svc(i)] = []string{name(home)}
		}
		fleet.Ports[svc(i)] = []decide.Port{{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "grpc", Port: 8443, Protocol: "TCP"}}
		cpu := 0.2 + float64(i%9)*0.05
		if home < 10 {
			cpu *= 2 // the first ten edge clusters run hot
		}
		used[home] += cpu
		requested[home] += cpu * 0.8
		snap.Workloads = append(snap.Workloads, metrics.WorkloadMetrics{Cluster: name(home), Namespace: fmt.Sprintf("ns-%d", i%50), Name: svc(i),
			CPU: metrics.WorkloadUsage{Usage: cpu, Requests: cpu * 0.8}, Memory: metrics.WorkloadUsage{Usage: cpu * 2 * gi, Requests: cpu * 1.6 * gi}})
	}
	cfg.WriteString("policy: {maxConcurrent: 1000}\ngitops: {remote: /tmp/fleet.git}\n")
	for i := range clusters {
		c := capacity[tier(i)]
		snap.Clusters = append(snap.Clusters, metrics.ClusterMetrics{Name: name(i),
			CPU:    metrics.ResourceMetrics{Sustained: used[i] * 0.98, Used: used[i], Requests: requested[i], Capacity: c},
			Memory: metrics.ResourceMetrics{Sustained: used[i] * 2 * gi * 0.98, Used: used[i] * 2 * gi, Requests: requested[i] * 2 * gi, Capacity: c * 4 * gi}})
	}
	parsed, err := config.Parse([]byte(cfg.String()))
	if err != nil {
		tb.Fatal(err)
	}
	if err := parsed.Validate(nil); err != nil {
		tb.Fatal(err)
	}
	data, err := snap.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return parsed, fleet, data
}

// BenchmarkPlan5000Services100Clusters plans a large fleet from a MetricsSnapshot
// document: "plan" times NewPlan alone, "parse+plan" also decodes the snapshot, as
// `gitmig plan --metrics` does.
func BenchmarkPlan5000Services100Clusters(b *testing.B) {
	cfg, fleet, data := largeFleet(b)
	snap, err := metrics.ParseSnapshot(data)
	if err != nil {
		b.Fatal(err)
	}
	if p := decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: snap}); len(p.Decisions) == 0 || len(p.Decisions)+len(p.Skipped) != 5000 {
		b.Fatalf("the benchmark fleet plans %d decisions and %d skips, want some decisions and every service once", len(p.Decisions), len(p.Skipped))
	}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: snap})
		}
	})
	b.Run("parse+plan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := metrics.ParseSnapshot(data)
			if err != nil {
				b.Fatal(err)
			}
			decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: s})
		}
	})
}

func TestLargeFleetPlansWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 5,000-service fleet")
	}
	cfg, fleet, data := largeFleet(t)
	snap, err := metrics.ParseSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	p := decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: snap})
	overloaded := map[string]bool{}
	for _, c := range p.Clusters {
		if c.State == decide.StateOverloaded {
			overloaded[c.Name] = true
		}
	}
	if len(overloaded) != 10 {
		t.Errorf("%d clusters overloaded, want the 10 hot edges", len(overloaded))
	}
	relieved, movedBack := map[string]bool{}, 0
	for _, d := range p.Decisions {
		if overloaded[d.From] {
			relieved[d.From] = true
		} else {
			movedBack++
		}
	}
	if len(relieved) != 10 || movedBack == 0 {
		t.Errorf("%d overloaded clusters relieved and %d services moved back, want 10 and some", len(relieved), movedBack)
	}
}
