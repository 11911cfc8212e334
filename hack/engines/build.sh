#!/usr/bin/env bash
# Builds the GitOps engines and tools that gitmig's real-engine tests run
# (internal/testenv/engines) into the cache folder that hack/kube/build.sh uses, one
# folder per tool and version:
#
#   ${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}/
#     argocd-<version>/argocd                      repo-server and application-controller
#     flux-<version>/source-controller, kustomize-controller
#     kwok-<version>/kwok, stages.yaml             fake nodes and pods, and their stages
#     kustomize-<version>/kustomize                the CLI Argo CD's repo-server calls
#
# Argo CD and Flux build in their own modules (./argocd, ./flux) with the replace lines
# of their releases; kwok and kustomize `go install` as released. A binary already there
# is kept, so only the first run on a machine compiles (minutes); later runs take
# seconds. Each build reports its time; the last line is the cache folder.
#
# Usage: bash hack/engines/build.sh [all | argocd | flux | kwok | kustomize]...
#   no argument or all: every one of them.
set -euo pipefail
cd "$(dirname "$0")"

# Keep these in step with internal/testenv/engines (TestVersions checks them).
kwok_version=v0.8.0
kustomize_version=v5.8.1

cache="${GITMIG_E2E_CACHE:-$HOME/.cache/gitmig-e2e}"

targets=("$@")
if [ ${#targets[@]} -eq 0 ] || [ "${targets[0]}" = all ]; then
	# kustomize first: kwok's stages are a kustomize build.
	targets=(kustomize kwok flux argocd)
fi

# cached OUT FILE... succeeds when every file is already in OUT; each is moved there
# only once complete.
cached() {
	local out=$1
	shift
	for f in "$@"; do
		[ -s "$out/$f" ] || return 1
	done
}

# install_tool DIR PACKAGE@VERSION BINARY: go install into DIR, through a .partial
# folder so that an interrupted build never leaves a binary that later runs would
# take for a good one.
install_tool() {
	local out=$1 pkg=$2 bin=$3
	rm -rf "$out/.partial"
	mkdir -p "$out/.partial"
	GOBIN="$out/.partial" go install -trimpath -ldflags "-s -w" "$pkg"
	mv "$out/.partial/$bin" "$out/$bin"
	rmdir "$out/.partial"
}

# module_build MODULE OUT PACKAGE BINARY [LDFLAGS]: go build of a tool of a module here.
module_build() {
	local module=$1 out=$2 pkg=$3 bin=$4 ldflags=${5:-}
	(cd "$module" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out/$bin.partial" "$pkg")
	mv "$out/$bin.partial" "$out/$bin"
}

build() {
	local name=$1 version out start
	case "$name" in
	kustomize) version=$kustomize_version ;;
	kwok) version=$kwok_version ;;
	flux) version=$(cd flux && go list -m -f '{{.Version}}' github.com/fluxcd/kustomize-controller) ;;
	argocd) version=$(cd argocd && go list -m -f '{{.Version}}' github.com/argoproj/argo-cd/v3) ;;
	*) echo "build.sh: unknown target $name (want argocd, flux, kwok, kustomize or all)" >&2; exit 2 ;;
	esac
	out="$cache/$name-$version"
	mkdir -p "$out"
	local bins=("$name")
	case "$name" in
	flux) bins=(source-controller kustomize-controller) ;;
	kwok) bins=(kwok stages.yaml) ;;
	esac
	if cached "$out" "${bins[@]}"; then
		echo "$name $version: cached in $out"
		return
	fi
	echo "$name $version: building (the first time takes minutes)"
	start=$SECONDS
	case "$name" in
	kustomize)
		install_tool "$out" "sigs.k8s.io/kustomize/kustomize/v5@$version" kustomize
		;;
	kwok)
		install_tool "$out" "sigs.k8s.io/kwok/cmd/kwok@$version" kwok
		# The stages that make fake nodes Ready and pods Running, from kwok's own
		# module, built with the kustomize above.
		local kustomize="$cache/kustomize-$kustomize_version/kustomize"
		[ -x "$kustomize" ] || build kustomize
		local src
		src=$(go mod download -json "sigs.k8s.io/kwok@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
		"$kustomize" build "$src/kustomize/stage/fast" >"$out/stages.yaml.partial"
		mv "$out/stages.yaml.partial" "$out/stages.yaml"
		;;
	flux)
		module_build flux "$out" github.com/fluxcd/source-controller source-controller
		module_build flux "$out" github.com/fluxcd/kustomize-controller kustomize-controller
		;;
	argocd)
		module_build argocd "$out" github.com/argoproj/argo-cd/v3/cmd argocd \
			"-X github.com/argoproj/argo-cd/v3/common.version=${version#v}"
		;;
	esac
	echo "$name $version: built in $((SECONDS - start))s"
}

for target in "${targets[@]}"; do
	build "$target"
done
echo "$cache"
