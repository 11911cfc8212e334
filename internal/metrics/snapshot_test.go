package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const snapshotHead = "apiVersion: gitmig.dev/v1alpha1\nkind: MetricsSnapshot\nevaluatedAt: '2026-05-04T09:00:00Z'\nsustain: 10m\n"

// TestSnapshotQuantities reads cpu and memory written as Kubernetes quantities to the
// same numbers as written plainly, exactly, so that a snapshot can be typed from
// kubectl's figures.
func TestSnapshotQuantities(t *testing.T) {
	quantities, err := ParseSnapshot([]byte(snapshotHead + `clusters:
  - name: edge
    cpu: {sustained: 6900m, used: "7.1", requests: 5200m, capacity: "8"}
    memory: {sustained: 7.5Gi, used: 7750Mi, requests: 8250Mi, capacity: 16Gi}
workloads:
  - cluster: edge
    namespace: orc8r-ns
    name: orc8r
    cpu: {usage: 3200m, requests: "3"}
    memory: {usage: 3Gi, requests: 4G}
`))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ParseSnapshot([]byte(snapshotHead + `clusters:
  - name: edge
    cpu: {sustained: 6.9, used: 7.1, requests: 5.2, capacity: 8}
    memory: {sustained: 8053063680, used: 8126464000, requests: 8650752000, capacity: 17179869184}
workloads:
  - cluster: edge
    namespace: orc8r-ns
    name: orc8r
    cpu: {usage: 3.2, requests: 3}
    memory: {usage: 3221225472, requests: 4000000000}
`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := quantities.Marshal()
	want, _ := plain.Marshal()
	if string(got) != string(want) {
		t.Fatalf("quantities read as\n%s\nwant\n%s", got, want)
	}
}

// TestSnapshotBadQuantity names the file and the field of a figure that is neither a
// number nor a quantity, and refuses one too large for any cluster.
func TestSnapshotBadQuantity(t *testing.T) {
	for _, tc := range []struct{ name, figures, want string }{
		{"unit typo", "cpu: {capacity: 8}, memory: {capacity: 16Gb}", `clusters.memory.capacity: "16Gb" is neither a number nor a Kubernetes quantity such as 500m or 16Gi`},
		{"word", "cpu: {capacity: eight}, memory: {capacity: 16Gi}", `clusters.cpu.capacity: "eight" is neither a number nor a Kubernetes quantity such as 500m or 16Gi`},
		{"negative", "cpu: {capacity: 8, used: -500m}, memory: {capacity: 16Gi}", "clusters[0].cpu.used: must not be negative, got -0.5"},
		{"beyond float64", "cpu: {capacity: 8}, memory: {capacity: 1e400}", "clusters[0].memory.capacity: must be a finite number, got +Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "snap.yaml")
			if err := os.WriteFile(path, []byte(snapshotHead+"clusters: [{name: edge, "+tc.figures+"}]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSnapshot(path)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s and say %q", err, path, tc.want)
			}
		})
	}
}
