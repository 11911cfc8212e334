package decide

import (
	"time"

	"github.com/gitmig/gitmig/internal/metrics"
)

// Cluster states in a plan.
const (
	StateOK         = "OK"
	StateOverloaded = "Overloaded"
	// StateUnknown is shared with snapshots.
	StateUnknown = metrics.StateUnknown
)

// Plan is the engine's answer: the state of every cluster, the migrations to start and,
// for every other service, why it stays. Its JSON form is what `gitmig plan -o json`
// prints.
type Plan struct {
	EvaluatedAt time.Time       `json:"evaluatedAt"`
	Clusters    []ClusterStatus `json:"clusters"`
	Decisions   []Decision      `json:"decisions"`
	Skipped     []Skip          `json:"skipped"`
}

// ClusterStatus is one cluster's state and its sustained utilisation.
type ClusterStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Why explains an Unknown state.
	Why    string      `json:"why,omitempty"`
	CPU    Utilization `json:"cpu"`
	Memory Utilization `json:"memory"`
}

// Utilization is the sustained usage of one resource against the cluster's capacity
// (cores or bytes); all zero when Unknown.
type Utilization struct {
	Used        float64 `json:"used"`
	Capacity    float64 `json:"capacity"`
	Utilization float64 `json:"utilization"`
}

// Decision is one migration to start.
type Decision struct {
	Service    string      `json:"service"`
	Namespace  string      `json:"namespace"`
	From       string      `json:"from"`
	To         string      `json:"to"`
	Reason     string      `json:"reason"`
	Candidates []Candidate `json:"candidates"`
}

// Candidate is one cluster considered for a decision, the current one included.
type Candidate struct {
	Cluster  string  `json:"cluster"`
	Feasible bool    `json:"feasible"`
	Score    float64 `json:"score"`
	Why      string  `json:"why"`
}

// Skip is a service that does not move, and why.
type Skip struct {
	Service string `json:"service"`
	Reason  string `json:"reason"`
}
