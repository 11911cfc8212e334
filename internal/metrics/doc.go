// Package metrics is what a plan is computed from: the Snapshot of a fleet's
// utilisation at one evaluation time, its file format (a MetricsSnapshot document
// that `gitmig plan --save-metrics` writes and `--metrics` replays), and the Source
// interface that produces one. The Prometheus source is in package prometheus.
package metrics
