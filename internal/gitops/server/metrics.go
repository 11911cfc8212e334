// Package server is what `gitmig serve` adds to the passes: an HTTP server with
// health, readiness, Prometheus metrics and GitHub's webhooks, and leader election
// among replicas.
package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/runner"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
)

// Metrics are the gitmig_* series, in a registry of their own: the process's default
// one would make two servers in one test share counters.
type Metrics struct {
	Registry *prometheus.Registry

	migrations   *prometheus.GaugeVec
	stepDuration *prometheus.HistogramVec
	passDuration prometheus.Histogram
	passes       *prometheus.CounterVec
	errors       *prometheus.CounterVec
	lastSuccess  prometheus.Gauge
	leader       prometheus.Gauge
	webhooks     *prometheus.CounterVec
}

// NewMetrics registers the series.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		migrations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gitmig_migrations",
			Help: "Migrations by status, as the last pass saw them.",
		}, []string{"status"}),
		// Buckets from seconds (a watch-triggered pass) to hours (a review).
		stepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gitmig_step_duration_seconds",
			Help:    "Time from the merge of a step's predecessor to the opening of the step's pull request: the engine applying it, the gate's holds, and gitmig noticing.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600},
		}, []string{"step"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gitmig_pass_duration_seconds",
			Help:    "Duration of reconcile passes.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitmig_passes_total",
			Help: "Reconcile passes, by the first reason each ran.",
		}, []string{"trigger"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitmig_pass_errors_total",
			Help: "Failed reconcile passes, by kind of error.",
		}, []string{"kind"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitmig_last_successful_pass_timestamp_seconds",
			Help: "When the last successful pass ended, in seconds since the epoch.",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gitmig_leader",
			Help: "1 while this replica leads and runs passes, else 0.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gitmig_webhooks_total",
			Help: "GitHub webhook deliveries, by event and result (pass, ignored, unauthorized, invalid, standby).",
		}, []string{"event", "result"}),
	}
	m.Registry.MustRegister(m.migrations, m.stepDuration, m.passDuration, m.passes, m.errors, m.lastSuccess, m.leader, m.webhooks)
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
}

// Pass records one pass's outcome.
func (m *Metrics) Pass(res runner.Result) {
	trigger := "none"
	if len(res.Triggers) > 0 {
		trigger = string(res.Triggers[0])
	}
	m.passes.WithLabelValues(trigger).Inc()
	m.passDuration.Observe(res.Duration.Seconds())
	if res.Err != nil {
		m.errors.WithLabelValues(ErrorKind(res.Err)).Inc()
	} else {
		m.lastSuccess.Set(float64(res.Started.Add(res.Duration).UnixNano()) / 1e9)
	}
	if res.Report == nil {
		return
	}
	// Every status seen so far stays a series, at zero when none is left in it, so that
	// a migration's end shows as a fall rather than a vanished series.
	m.migrations.Reset()
	for _, status := range []string{string(record.InProgress), report.StatusRollingBack, string(record.Completed), string(record.RolledBack), string(record.Aborted)} {
		m.migrations.WithLabelValues(status)
	}
	for _, mig := range res.Report.Migrations {
		m.migrations.WithLabelValues(mig.Status).Inc()
	}
	now := res.Started.Add(res.Duration)
	for _, a := range res.Report.Actions {
		if a.Kind != report.ActionCreatePR || a.DryRun || a.Step <= 1 {
			continue
		}
		if merged := predecessorMerged(res.Report, a.Migration, a.Step); !merged.IsZero() && now.After(merged) {
			m.stepDuration.WithLabelValues(step.Step(a.Step).Name()).Observe(now.Sub(merged).Seconds())
		}
	}
}

func predecessorMerged(rep *report.Report, id string, s int) time.Time {
	for _, mig := range rep.Migrations {
		if mig.ID != id {
			continue
		}
		for _, pr := range mig.PullRequests {
			if pr.Step == s-1 {
				return pr.MergedAt
			}
		}
	}
	return time.Time{}
}

// ErrorKind sorts a pass's error for the errors series: a few fixed words, never the
// message, which may name a URL.
func ErrorKind(err error) string {
	var limited *forge.RateLimitError
	switch {
	case errors.As(err, &limited):
		return "rate_limit"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, workspace.ErrRejected):
		return "push_rejected"
	}
	return "other"
}
