package metrics

import (
	"context"
	"fmt"
	"time"
)

// Source produces the metrics a plan is computed from.
type Source interface {
	// Snapshot returns the metrics at the evaluation time at. A source that replays
	// recorded numbers may ignore at and keep its own time.
	Snapshot(ctx context.Context, at time.Time) (*Snapshot, error)
}

// FileSource replays a MetricsSnapshot file.
type FileSource struct {
	Path string
}

// Snapshot loads the file; its recorded evaluation time wins over at.
func (f FileSource) Snapshot(context.Context, time.Time) (*Snapshot, error) {
	return LoadSnapshot(f.Path)
}

// QueryErrorKind says whether a failed query is the user's to fix or the server's.
type QueryErrorKind int

const (
	// QueryInvalid means the query or its answer is wrong for gitmig: Prometheus refused
	// it (HTTP 4xx: the PromQL, the label names or the credentials in gitmig.yaml) or
	// returned series without the configured labels. Retrying cannot help.
	QueryInvalid QueryErrorKind = iota + 1
	// QueryUnavailable means Prometheus could not be reached or kept failing (transport
	// errors, 5xx) after the retries.
	QueryUnavailable
)

// QueryError is a query that produced no usable answer.
type QueryError struct {
	Kind QueryErrorKind
	// Query is the query's name, such as cpuUsage.
	Query string
	// Field is where the user sets the query, such as policy.queries.cpuUsage.
	Field string
	Err   error
}

func (e *QueryError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("query %s (%s): %v", e.Query, e.Field, e.Err)
	}
	return fmt.Sprintf("query %s: %v", e.Query, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }
