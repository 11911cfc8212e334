// Package gitmig holds the example fleet that `gitmig demo` seeds its temporary
// repository with: the gitmig.yaml, bases and cluster overlays at the root of this
// module, and a metrics snapshot in which the edge cluster is overloaded.
package gitmig

import "embed"

// Example is the example GitOps repository.
//
//go:embed gitmig.yaml base clusters
var Example embed.FS

// ExampleMetrics is a MetricsSnapshot of the example fleet with edge overloaded.
//
//go:embed examples/metrics/edge-overloaded.yaml
var ExampleMetrics []byte
