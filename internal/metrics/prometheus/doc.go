// Package prometheus reads a fleet's metrics from Prometheus, or a compatible API such
// as Thanos or Mimir: one instant query per metric for the whole fleet at one
// evaluation time, and the gauges and samples the gates ask for. Requests that may
// succeed a moment later are retried; policy.prometheus.timeout bounds each query
// with its retries.
package prometheus
