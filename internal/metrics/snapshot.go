package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/config"
)

// SnapshotKind is the kind of a metrics snapshot document.
const SnapshotKind = "MetricsSnapshot"

// StateUnknown marks metrics that cannot be trusted; such a cluster never triggers a
// move and never receives one.
const StateUnknown = "Unknown"

// Snapshot is what the metrics queries returned at one evaluation time: the numbers a
// plan is computed from, in a form that can be saved and replayed.
type Snapshot struct {
	// APIVersion must be gitmig.dev/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind must be MetricsSnapshot.
	Kind string `json:"kind"`
	// EvaluatedAt is when the numbers were read: the plan's evaluation time, which
	// cooldowns are compared with. Required.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// Sustain is the window over which sustained usage is the minimum. When shorter
	// than policy.sustain, the plan counts every cluster Unknown.
	Sustain config.Duration `json:"sustain"`
	// Source says where the numbers came from, such as the Prometheus URL.
	Source string `json:"source,omitempty"`
	// Queries are the PromQL expressions the numbers came from, shown with the
	// evidence of pull requests.
	Queries []Query `json:"queries,omitempty"`
	// Clusters are the clusters' totals, one entry per cluster; a cluster of
	// gitmig.yaml without one is Unknown.
	Clusters []ClusterMetrics `json:"clusters"`
	// Workloads are the usage and requests of each workload; the plan reads those of
	// gitmig.yaml's services, as the size of a move.
	Workloads []WorkloadMetrics `json:"workloads,omitempty"`
}

// Query is one PromQL expression the source evaluated.
type Query struct {
	// Name says what the query measures, such as cpuSustained.
	Name string `json:"name"`
	// PromQL is the expression as evaluated.
	PromQL string `json:"promql"`
}

// ClusterMetrics are one cluster's totals.
type ClusterMetrics struct {
	// Name is the cluster's name in gitmig.yaml; unique. Required.
	Name string `json:"name"`
	// State is empty when the numbers are usable, Unknown otherwise, with why. An
	// Unknown cluster never triggers a move and never receives one.
	State string `json:"state,omitempty"`
	// Why says why the numbers cannot be used; required with state Unknown, and
	// only then.
	Why string `json:"why,omitempty"`
	// CPU are the cluster's cpu totals, in cores.
	CPU ResourceMetrics `json:"cpu"`
	// Memory are the cluster's memory totals, in bytes.
	Memory ResourceMetrics `json:"memory"`
}

// ResourceMetrics are a cluster's totals for one resource, in cores or bytes. A file
// may give each as a number or as a Kubernetes quantity, such as 500m or 16Gi.
type ResourceMetrics struct {
	// Sustained is the minimum of the cluster's total usage over the sustain window:
	// it exceeds a threshold only if usage did so during the whole window. sustained /
	// capacity is compared with policy.overload.
	Sustained float64 `json:"sustained"`
	// Used is the total usage at the evaluation time: the current usage, which a move
	// changes and policy.target bounds.
	Used float64 `json:"used"`
	// Requests is the sum of the requests of every workload in the cluster.
	Requests float64 `json:"requests"`
	// Capacity is what the cluster can give to workloads: gitmig.yaml's capacity when
	// it sets one, else the nodes' allocatable.
	Capacity float64 `json:"capacity"`
}

// WorkloadMetrics are one workload's usage and requests in one cluster. A workload is
// a Deployment; gitmig's services are the workloads named like them.
type WorkloadMetrics struct {
	// Cluster is the cluster it runs in, one of the snapshot's clusters. Required.
	Cluster string `json:"cluster"`
	// Namespace is its namespace. Required.
	Namespace string `json:"namespace"`
	// Name is its Deployment's name. Required.
	Name string `json:"name"`
	// CPU is its cpu, in cores.
	CPU WorkloadUsage `json:"cpu"`
	// Memory is its memory, in bytes.
	Memory WorkloadUsage `json:"memory"`
}

// WorkloadUsage is a workload's usage and requests of one resource, in cores or bytes,
// each a number or a Kubernetes quantity in a file.
type WorkloadUsage struct {
	// Usage is the workload's current usage, at the evaluation time: what a move takes
	// away from its cluster.
	Usage float64 `json:"usage"`
	// Requests is the sum of its containers' requests.
	Requests float64 `json:"requests"`
}

// UnmarshalJSON reads every figure as a number or a Kubernetes quantity.
func (r *ResourceMetrics) UnmarshalJSON(data []byte) error {
	var in struct {
		Sustained figure `json:"sustained"`
		Used      figure `json:"used"`
		Requests  figure `json:"requests"`
		Capacity  figure `json:"capacity"`
	}
	if err := decodeStrict(data, &in); err != nil {
		return err
	}
	*r = ResourceMetrics{Sustained: float64(in.Sustained), Used: float64(in.Used), Requests: float64(in.Requests), Capacity: float64(in.Capacity)}
	return nil
}

// UnmarshalJSON reads both figures as numbers or Kubernetes quantities.
func (u *WorkloadUsage) UnmarshalJSON(data []byte) error {
	var in struct {
		Usage    figure `json:"usage"`
		Requests figure `json:"requests"`
	}
	if err := decodeStrict(data, &in); err != nil {
		return err
	}
	*u = WorkloadUsage{Usage: float64(in.Usage), Requests: float64(in.Requests)}
	return nil
}

// decodeStrict decodes one JSON value, refusing unknown fields as the whole document
// does.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// figure is a number of cores or bytes as a snapshot file writes it: a plain number,
// or a Kubernetes quantity as requests and limits are written (500m, 16Gi), so that
// numbers can be copied from kubectl.
type figure float64

var figureType = reflect.TypeFor[figure]()

func (f *figure) UnmarshalJSON(data []byte) error {
	// An *json.UnmarshalTypeError, so that encoding/json adds the field's path.
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		var v float64
		if err := json.Unmarshal(data, &v); err != nil {
			return &json.UnmarshalTypeError{Value: string(data), Type: figureType}
		}
		*f = figure(v)
		return nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: figureType}
	}
	// The exact decimal, rounded once: 7.5Gi is 8053063680 bytes, where
	// AsApproximateFloat64 is off in the last digits. A quantity beyond float64 reads
	// as an infinity, which validation refuses with the field's path.
	v, _ := strconv.ParseFloat(q.AsDec().String(), 64)
	*f = figure(v)
	return nil
}

// Unknown reports whether the cluster's numbers must not be used.
func (c ClusterMetrics) Unknown() bool { return c.State == StateUnknown }

// UnknownSnapshot returns a snapshot in which every cluster of cfg is Unknown for the
// same reason, for callers that keep going when the metrics cannot be read: nothing
// moves, but migrations in flight can still advance.
func UnknownSnapshot(cfg *config.Config, at time.Time, why string) *Snapshot {
	s := &Snapshot{APIVersion: config.APIVersion, Kind: SnapshotKind, EvaluatedAt: at.UTC(), Sustain: cfg.Policy.Sustain}
	for _, cl := range cfg.Clusters {
		s.Clusters = append(s.Clusters, ClusterMetrics{Name: cl.Name, State: StateUnknown, Why: why})
	}
	return s
}

// ParseSnapshot decodes and validates a MetricsSnapshot document. Unknown fields are
// errors, so a typo never silently reads as zero.
func ParseSnapshot(data []byte) (*Snapshot, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty document")
	}
	var s Snapshot
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Type == figureType {
			return nil, fmt.Errorf("%s: %s is neither a number nor a Kubernetes quantity such as 500m or 16Gi", typeErr.Field, typeErr.Value)
		}
		return nil, fmt.Errorf("decoding: %s", decodeMessage(err))
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	// An empty list and none read the same, and Marshal writes neither: one form for
	// both keeps a snapshot equal to itself read back.
	if len(s.Queries) == 0 {
		s.Queries = nil
	}
	if len(s.Clusters) == 0 {
		s.Clusters = nil
	}
	if len(s.Workloads) == 0 {
		s.Workloads = nil
	}
	return &s, nil
}

// LoadSnapshot reads a MetricsSnapshot file.
func LoadSnapshot(path string) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading metrics snapshot: %w", err)
	}
	s, err := ParseSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("metrics snapshot %s: %w", path, err)
	}
	return s, nil
}

// Marshal encodes the snapshot as YAML.
func (s *Snapshot) Marshal() ([]byte, error) {
	data, err := yaml.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding metrics snapshot: %w", err)
	}
	return data, nil
}

// Save writes the snapshot as YAML to path.
func (s *Snapshot) Save(path string) error {
	data, err := s.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("writing metrics snapshot: %w", err)
	}
	return nil
}

// Validate reports every problem of the snapshot, each with its field path.
func (s *Snapshot) Validate() error {
	var problems []string
	add := func(field, format string, args ...any) {
		problems = append(problems, field+": "+fmt.Sprintf(format, args...))
	}
	if s.APIVersion != config.APIVersion {
		add("apiVersion", "must be %q, got %q", config.APIVersion, s.APIVersion)
	}
	if s.Kind != SnapshotKind {
		add("kind", "must be %q, got %q", SnapshotKind, s.Kind)
	}
	if s.EvaluatedAt.IsZero() {
		add("evaluatedAt", "required (RFC3339)")
	}
	if s.Sustain.Duration < 0 {
		add("sustain", "must not be negative, got %s", s.Sustain.Duration)
	}
	seen := map[string]bool{}
	for i, c := range s.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		if c.Name == "" {
			add(f+".name", "required")
		}
		if seen[c.Name] {
			add(f+".name", "duplicate cluster %q", c.Name)
		}
		seen[c.Name] = true
		switch c.State {
		case "":
			if c.Why != "" {
				add(f+".why", "only an Unknown cluster has a why")
			}
		case StateUnknown:
			if c.Why == "" {
				add(f+".why", "required when state is Unknown: say why the numbers cannot be used")
			}
		default:
			add(f+".state", "must be empty or %q, got %q", StateUnknown, c.State)
		}
		for _, r := range []struct {
			name string
			m    ResourceMetrics
		}{{"cpu", c.CPU}, {"memory", c.Memory}} {
			for _, v := range []struct {
				name  string
				value float64
			}{{"sustained", r.m.Sustained}, {"used", r.m.Used}, {"requests", r.m.Requests}, {"capacity", r.m.Capacity}} {
				if bad := badNumber(v.value); bad != "" {
					add(fmt.Sprintf("%s.%s.%s", f, r.name, v.name), "%s", bad)
				}
			}
			if !c.Unknown() && r.m.Capacity == 0 {
				add(fmt.Sprintf("%s.%s.capacity", f, r.name), "must be positive unless the cluster is Unknown")
			}
		}
	}
	for i, w := range s.Workloads {
		f := fmt.Sprintf("workloads[%d]", i)
		for _, v := range []struct {
			field, value string
		}{{"cluster", w.Cluster}, {"namespace", w.Namespace}, {"name", w.Name}} {
			if v.value == "" {
				add(f+"."+v.field, "required")
			}
		}
		if w.Cluster != "" && !seen[w.Cluster] {
			add(f+".cluster", "cluster %q is not listed under clusters", w.Cluster)
		}
		for _, v := range []struct {
			field string
			value float64
		}{{"cpu.usage", w.CPU.Usage}, {"cpu.requests", w.CPU.Requests}, {"memory.usage", w.Memory.Usage}, {"memory.requests", w.Memory.Requests}} {
			if bad := badNumber(v.value); bad != "" {
				add(f+"."+v.field, "%s", bad)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "\n"))
}

// decodeMessage drops the layers of wrapping sigs.k8s.io/yaml adds, keeping what names
// the problem, such as `unknown field "capcity"` or a syntax error's line.
func decodeMessage(err error) string {
	msg := err.Error()
	for _, layer := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.ReplaceAll(msg, layer, "")
	}
	return msg
}

func badNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprintf("must be a finite number, got %v", v)
	case v < 0:
		return fmt.Sprintf("must not be negative, got %v", v)
	}
	return ""
}

// Sort puts clusters and workloads in a fixed order so that a saved snapshot is
// byte-identical for the same numbers.
func (s *Snapshot) Sort() {
	slices.SortFunc(s.Clusters, func(a, b ClusterMetrics) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(s.Workloads, func(a, b WorkloadMetrics) int {
		return cmpStrings(a.Cluster, b.Cluster, a.Namespace, b.Namespace, a.Name, b.Name)
	})
}

// cmpStrings compares pairs of strings in order, the first differing pair deciding.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}
