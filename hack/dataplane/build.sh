#!/usr/bin/env bash
# Builds the data plane that gitmig's zero-downtime test runs in each simulated cluster
# (internal/testenv/dataplane) into the cache folder that hack/kube/build.sh uses, one
# folder per tool and version:
#
#   ${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}/
#     coredns-<version>/coredns     cluster DNS: cluster.local and the ingress names
#     traefik-<version>/traefik     the ingress, with the Kubernetes CRD provider
#
# kube-proxy, the third piece, comes from hack/kube/build.sh kube-proxy. CoreDNS
# `go install`s as released; Traefik builds in its own module (./traefik) with the
# replace lines of its release. A binary already there is kept, so only the first run
# on a machine compiles (minutes); later runs take seconds. Each build reports its
# time; the last line is the cache folder.
#
# Usage: bash hack/dataplane/build.sh [all | coredns | traefik]...
#   no argument or all: both.
set -euo pipefail
cd "$(dirname "$0")"

# Keep this in step with internal/testenv/dataplane (TestVersions checks it).
coredns_version=v1.15.0

cache="${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ] || [ "${targets[0]}" = all ]; then
	targets=(coredns traefik)
fi

build() {
	local name=$1 version out start
	case "$name" in
	coredns) version=$coredns_version ;;
	traefik) version=$(cd traefik && go list -m -f '{{.Version}}' github.com/traefik/traefik/v3) ;;
	*) echo "build.sh: unknown target $name (want coredns, traefik or all)" >&2; exit 2 ;;
	esac
	out="$cache/$name-$version"
	mkdir -p "$out"
	if [ -s "$out/$name" ]; then
		echo "$name $version: cached in $out"
		return
	fi
	echo "$name $version: building (the first time takes minutes)"
	start=$SECONDS
	# Build beside the target and rename, so an interrupted build never leaves a
	# binary that later runs would take for a good one.
	case "$name" in
	coredns)
		rm -rf "$out/.partial"
		mkdir -p "$out/.partial"
		GOBIN="$out/.partial" go install -trimpath -ldflags "-s -w" "github.com/coredns/coredns@$version"
		mv "$out/.partial/coredns" "$out/coredns"
		rmdir "$out/.partial"
		;;
	traefik)
		(cd traefik && go build -trimpath -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version" \
			-o "$out/traefik.partial" github.com/traefik/traefik/v3/cmd/traefik)
		mv "$out/traefik.partial" "$out/traefik"
		;;
	esac
	echo "$name $version: built in $((SECONDS - start))s"
}

for target in "${targets[@]}"; do
	build "$target"
done
echo "$cache"
