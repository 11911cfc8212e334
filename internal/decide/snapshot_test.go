package decide_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
)

func TestSnapshotRoundTrip(t *testing.T) {
	f := newFixture(t)
	f.edit = func(s *metrics.Snapshot) {
		s.Clusters[1].State, s.Clusters[1].Why = metrics.StateUnknown, "no cpu usage series"
		s.Queries = []metrics.Query{{Name: "cpuUsage", PromQL: `sum by (cluster) (rate(x[5m]))`}}
	}
	snap := f.snapshot()
	path := filepath.Join(t.TempDir(), "metrics.yaml")
	if err := snap.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := metrics.LoadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := snap.Marshal()
	second, _ := loaded.Marshal()
	if !bytes.Equal(first, second) {
		t.Fatalf("saved and reloaded snapshots differ:\n%s\n---\n%s", first, second)
	}
	if !bytes.Equal(planJSON(t, decide.NewPlan(decide.Input{Config: f.cfg, Fleet: f.fleet, Metrics: loaded})),
		planJSON(t, decide.NewPlan(decide.Input{Config: f.cfg, Fleet: f.fleet, Metrics: snap}))) {
		t.Fatal("a replayed snapshot plans differently from the original")
	}
}

func TestSnapshotErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown field", `apiVersion: gitmig.dev/v1alpha1
kind: MetricsSnapshot
evaluatedAt: "2026-05-04T09:00:00Z"
clusters: [{name: edge, cpu: {used: 1, capcity: 8}}]`, []string{`decoding: unknown field "capcity"`}},
		{"values", `apiVersion: gitmig.dev/v1alpha1
kind: Metrics
evaluatedAt: "2026-05-04T09:00:00Z"
clusters:
  - {name: edge, cpu: {used: -1, capacity: 8}, memory: {capacity: 0}}
  - {name: fog, state: Broken}
  - {name: cloud, state: Unknown}
workloads:
  - {cluster: moon, namespace: n, name: w}`, []string{
			`kind: must be "MetricsSnapshot", got "Metrics"`,
			"clusters[0].cpu.used: must not be negative, got -1",
			"clusters[0].memory.capacity: must be positive unless the cluster is Unknown",
			`clusters[1].state: must be empty or "Unknown", got "Broken"`,
			"clusters[2].why: required when state is Unknown",
			`workloads[0].cluster: cluster "moon" is not listed under clusters`,
		}},
		{"empty", "", []string{"empty document"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := metrics.LoadSnapshot(path)
			if err == nil {
				t.Fatal("no error")
			}
			wantContains(t, "error", err.Error(), append([]string{"metrics snapshot " + path}, tc.want...)...)
		})
	}
}

func TestBundledExampleSnapshotMovesOrc8rToCloud(t *testing.T) {
	snap, err := metrics.LoadSnapshot("../../examples/metrics/edge-overloaded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	p := decide.NewPlan(decide.Input{Config: f.cfg, Fleet: f.fleet, Metrics: snap})
	wantMoves(t, p, "orc8r edge→cloud")
	if fog := candidate(t, p.Decisions[0], "fog"); fog.Feasible {
		t.Errorf("fog (4 cores) takes orc8r in the example: %+v", fog)
	}
}
