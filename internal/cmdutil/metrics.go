package cmdutil

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/metrics/prometheus"
)

// PrometheusURLEnv overrides policy.prometheus.url from the environment, so a
// scheduled job takes the address from its settings without putting it on a command
// line.
const PrometheusURLEnv = "GITMIG_PROMETHEUS_URL"

// MetricsFlags are the flags that choose where a plan's metrics come from, shared by
// plan and reconcile.
type MetricsFlags struct {
	// Prometheus overrides policy.prometheus.url; when empty, the environment variable
	// PrometheusURLEnv does.
	Prometheus string
	// Metrics replays a MetricsSnapshot file instead of querying Prometheus.
	Metrics string
	// Time is the RFC3339 evaluation time; now when empty.
	Time string
	// Retry tunes the Prometheus client; the zero value is the default policy.
	Retry prometheus.Options
}

// AddFlags registers --prometheus, --metrics and --time.
func (m *MetricsFlags) AddFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&m.Prometheus, "prometheus", "", "Prometheus URL (default $"+PrometheusURLEnv+", then policy.prometheus.url)")
	f.StringVar(&m.Metrics, "metrics", "", "plan from this MetricsSnapshot file instead of Prometheus")
	f.StringVar(&m.Time, "time", "", "evaluation time, RFC3339 (default now)")
	cmd.MarkFlagsMutuallyExclusive("prometheus", "metrics")
	cmd.MarkFlagsMutuallyExclusive("time", "metrics")
}

// EvaluationTime is --time, or now truncated to the second.
func (m *MetricsFlags) EvaluationTime(now time.Time) (time.Time, error) {
	if m.Time == "" {
		return now.UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, m.Time)
	if err != nil {
		return time.Time{}, fmt.Errorf("--time %q: want RFC3339, such as 2026-05-04T09:00:00Z", m.Time)
	}
	return t.UTC(), nil
}

// Source is the metrics source the flags select.
func (m *MetricsFlags) Source(cfg *config.Config) (metrics.Source, error) {
	if m.Metrics != "" {
		return metrics.FileSource{Path: m.Metrics}, nil
	}
	opts := m.Retry
	opts.URL, opts.URLFrom = m.Prometheus, "--prometheus"
	if opts.URL == "" {
		getenv := opts.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		opts.URL, opts.URLFrom = getenv(PrometheusURLEnv), "$"+PrometheusURLEnv
	}
	return prometheus.NewSource(cfg, opts)
}
