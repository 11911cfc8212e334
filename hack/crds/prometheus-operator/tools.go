// Package tools pins the Prometheus Operator's API types whose CRDs hack/crds/build.sh
// generates, with the Operator's own generator, for the tests that apply deploy/.
package tools

import _ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
