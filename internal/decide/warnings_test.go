package decide_test

import (
	"slices"
	"testing"

	"github.com/gitmig/gitmig/internal/metrics"
)

// TestSnapshotThatFitsHasNoWarnings: the example's snapshot names only gitmig.yaml's
// clusters, and its other workloads (coredns) are no cause for a warning.
func TestSnapshotThatFitsHasNoWarnings(t *testing.T) {
	if w := newFixture(t).plan().Warnings; len(w) != 0 {
		t.Fatalf("warnings = %q, want none", w)
	}
}

// TestSnapshotNamesNotInConfigWarn: a cluster gitmig.yaml lacks, a service's workload in
// another namespace, and a service with no workload where it runs are each warned
// about, by their place in the snapshot, while the plan is still computed.
func TestSnapshotNamesNotInConfigWarn(t *testing.T) {
	f := newFixture(t)
	f.edit = func(s *metrics.Snapshot) {
		s.Clusters = append(s.Clusters, metrics.ClusterMetrics{Name: "mars", CPU: metrics.ResourceMetrics{Capacity: 1}, Memory: metrics.ResourceMetrics{Capacity: 1}})
		s.Workloads = append(s.Workloads, wl("mars", "orc8r-ns", "orc8r", 1, 1, 1, 1))
		for i, w := range s.Workloads {
			if w.Name == "agw" {
				s.Workloads[i].Namespace = "agw"
			}
		}
	}
	p := f.plan()
	want := []string{
		`metrics snapshot clusters[3]: "mars" is not a cluster of gitmig.yaml; its numbers are not used, nor those of its 1 workload(s)`,
		"metrics snapshot workloads[0]: agw/agw in edge is not service agw of gitmig.yaml, whose namespace is agw-ns; its numbers are not used",
		"service agw runs in edge, but the metrics snapshot has no workload agw-ns/agw there, so its usage is unknown",
	}
	if !slices.Equal(p.Warnings, want) {
		t.Errorf("warnings:\n%q\nwant\n%q", p.Warnings, want)
	}
	if len(p.Decisions) != 1 || p.Decisions[0].Service != "orc8r" || p.Decisions[0].To != "cloud" {
		t.Errorf("decisions = %+v, want orc8r edge→cloud as without the warnings", p.Decisions)
	}
}
