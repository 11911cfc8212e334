#!/usr/bin/env bash
# Generates the CRDs of projects that publish their API types as a Go module but not
# their CRD manifests, into the cache folder that hack/kube/build.sh uses:
#
#   ${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}/
#     prometheus-operator-crds-<version>/monitoring.coreos.com_servicemonitors.yaml …
#
# The Prometheus Operator's CRDs (deploy/ has a ServiceMonitor) are generated from its
# pkg/apis/monitoring module with controller-gen, as the Operator's own build does; the
# versions of both are pinned in ./prometheus-operator/go.mod. Files already there are
# kept, so only the first run on a machine generates them (a minute); the last line is
# the cache folder.
#
# Usage: bash hack/crds/build.sh
set -euo pipefail
cd "$(dirname "$0")/prometheus-operator"

cache="${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}"
module=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
version=$(go list -m -f '{{.Version}}' "$module")
out="$cache/prometheus-operator-crds-$version"

if [ -s "$out/monitoring.coreos.com_servicemonitors.yaml" ]; then
	echo "prometheus-operator CRDs $version: cached in $out"
else
	echo "prometheus-operator CRDs $version: generating"
	start=$SECONDS
	# Generate beside the target and rename, so an interrupted run never leaves a
	# partial set that later runs would take for a good one.
	rm -rf "$out.partial"
	mkdir -p "$(dirname "$out")"
	go tool controller-gen crd:crdVersions=v1,maxDescLen=0 paths="$module/v1" output:crd:dir="$out.partial"
	rm -rf "$out"
	mv "$out.partial" "$out"
	echo "prometheus-operator CRDs $version: generated in $((SECONDS - start)) s"
fi
echo "$cache"
