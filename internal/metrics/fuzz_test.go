package metrics

import (
	"os"
	"reflect"
	"testing"
)

// FuzzParseSnapshot checks that no snapshot makes ParseSnapshot panic, and that a
// snapshot it accepts, its figures written as numbers or Kubernetes quantities, encodes
// (no NaN or infinity can reach plan -o json or a saved file) and reads back the same. `go test` runs the seeds and the committed corpus;
// `go test -fuzz FuzzParseSnapshot` explores.
func FuzzParseSnapshot(f *testing.F) {
	if example, err := os.ReadFile("../../examples/metrics/edge-overloaded.yaml"); err == nil {
		f.Add(example)
	}
	const head = "apiVersion: gitmig.dev/v1alpha1\nkind: MetricsSnapshot\nevaluatedAt: '2026-05-04T09:00:00Z'\nsustain: 10m\n"
	for _, seed := range []string{
		"", "null", "{}", head,
		head + "clusters: [{name: edge, cpu: {sustained: .nan, used: .inf, requests: -1, capacity: 8}}]\n",
		head + "clusters: [{name: edge, cpu: {sustained: 1e308, used: 1e308, requests: 1e308, capacity: 1e308}}]\n",
		head + "clusters: [{name: edge}, {name: edge}]\nworkloads: [{cluster: gone, name: x}]\n",
		head + "clusters: [{name: edge, state: Unknown, reason: prometheus down}]\n",
		head + "clusters: [{name: edge, cpu: {sustained: 6900m, used: '7.1', requests: 1k, capacity: 8}, memory: {sustained: 7.5Gi, used: 8G, requests: 1e3Mi, capacity: 16Gi}}]\n",
		head + "clusters: [{name: edge, cpu: {capacity: 1n}, memory: {capacity: 8Ei}}]\nworkloads: [{cluster: edge, namespace: n, name: w, cpu: {usage: 250m, requests: 0.5}, memory: {usage: 1Ki, requests: 512Mi}}]\n",
		head + "clusters: [{name: edge, cpu: {capacity: 16Gb}, memory: {capacity: -1Gi}}]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSnapshot(data)
		if err != nil {
			return
		}
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("an accepted snapshot does not encode: %v", err)
		}
		again, err := ParseSnapshot(out)
		if err != nil {
			t.Fatalf("a snapshot gitmig wrote does not read back: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("round trip changed the snapshot:\n%+v\n%+v", s, again)
		}
	})
}
