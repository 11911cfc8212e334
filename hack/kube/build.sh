#!/usr/bin/env bash
# Builds the Kubernetes control-plane binaries that gitmig's end-to-end tests run, from
# k8s.io/kubernetes at the version this module requires, into a cache folder outside the
# clone keyed by that version:
#
#   ${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}/kubernetes-<version>/
#
# A binary already there is kept, so only the first run on a machine compiles (minutes);
# later runs take seconds. Prints the folder on its last line.
#
# Usage: bash hack/kube/build.sh [all | BINARY...]
#   no argument   kube-apiserver
#   all           kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy
#   BINARY...     any of those four
set -euo pipefail
cd "$(dirname "$0")"

binaries=("$@")
if [ ${#binaries[@]} -eq 0 ]; then
	binaries=(kube-apiserver)
elif [ "${binaries[0]}" = all ]; then
	binaries=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
fi

version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
out="${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}/kubernetes-$version"
mkdir -p "$out"

# The version the binaries report (/version, and the API server's emulation version);
# without it they call themselves v0.0.0-master.
minor=${version#v1.}
minor=${minor%%.*}
ldflags="-s -w
	-X k8s.io/component-base/version.gitVersion=$version
	-X k8s.io/component-base/version.gitMajor=1
	-X k8s.io/component-base/version.gitMinor=$minor
	-X k8s.io/component-base/version.gitTreeState=clean"

for bin in "${binaries[@]}"; do
	case "$bin" in
	kube-apiserver | kube-controller-manager | kube-scheduler | kube-proxy) ;;
	*) echo "build.sh: unknown binary $bin (want kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy or all)" >&2; exit 2 ;;
	esac
	if [ -x "$out/$bin" ]; then
		echo "$bin $version: cached"
		continue
	fi
	echo "$bin $version: building (the first time takes minutes)"
	start=$SECONDS
	# Build beside the target and rename, so an interrupted build never leaves a
	# binary that later runs would take for a good one.
	go build -trimpath -ldflags "$ldflags" -o "$out/$bin.partial" "k8s.io/kubernetes/cmd/$bin"
	mv "$out/$bin.partial" "$out/$bin"
	echo "$bin $version: built in $((SECONDS - start))s"
done
echo "$out"
