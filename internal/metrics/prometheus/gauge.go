package prometheus

import (
	"context"
	"fmt"
	"math"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Gauge evaluates a query that sums to one number at one time, such as a Deployment's
// available replicas. found is false when the query matched no series; a NaN, an
// infinity or a warning is an error, since a gate must never pass on doubtful data.
func (s *Source) Gauge(ctx context.Context, field, promql string, at time.Time) (value float64, found bool, err error) {
	q := fleetQuery{name: field, field: field, promql: promql}
	vector, warnings, err := s.query(ctx, q, at)
	if err != nil {
		return 0, false, err
	}
	if len(warnings) > 0 {
		return 0, false, fmt.Errorf("%s: Prometheus warned: %s", field, warnings[0])
	}
	if len(vector) == 0 {
		return 0, false, nil
	}
	for _, sample := range vector {
		v := float64(sample.Value)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false, fmt.Errorf("%s: %s is %v", field, sample.Metric, v)
		}
		value += v
	}
	return value, true, nil
}

// Samples evaluates a query at n evaluation times, step apart, ending at end, and
// returns its summed value at each, oldest first; a time with no series counts as
// missing, not as zero.
func (s *Source) Samples(ctx context.Context, field, promql string, end time.Time, step time.Duration, n int) ([]float64, error) {
	r := v1.Range{Start: end.Add(-time.Duration(n-1) * step), End: end, Step: step}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	value, warnings, _, err := s.api.QueryRange(ctx, promql, r, v1.WithTimeout(serverTimeout(s.timeout)))
	if err != nil {
		return nil, s.queryError(fleetQuery{name: field, field: field, promql: promql}, err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("%s: Prometheus warned: %s", field, warnings[0])
	}
	matrix, ok := value.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("%s returned a %s, want a range vector", field, value.Type())
	}
	sums := map[model.Time]float64{}
	for _, stream := range matrix {
		for _, p := range stream.Values {
			sums[p.Timestamp] += float64(p.Value)
		}
	}
	out := make([]float64, 0, n)
	for t := r.Start; !t.After(end); t = t.Add(step) {
		v, ok := sums[model.TimeFromUnixNano(t.UnixNano())]
		if !ok {
			return nil, fmt.Errorf("%s: no sample at %s", field, t.UTC().Format(time.RFC3339))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: %v at %s", field, v, t.UTC().Format(time.RFC3339))
		}
		out = append(out, v)
	}
	return out, nil
}
