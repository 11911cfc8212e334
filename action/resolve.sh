#!/usr/bin/env bash
# Decides what the gitmig action installs and where, for the steps after it, and
# writes it to $GITHUB_OUTPUT:
#   version    the release (such as v0.1.0) or "source"
#   source     "true" when building the action's checkout with Go
#   bin-dir    where gitmig goes; a release's folder is kept with actions/cache
#   cache-dir  gitmig's cache of kustomize builds: $GITMIG_CACHE_DIR ("off" for none),
#              else gitmig/builds in $XDG_CACHE_HOME or ~/.cache; the run step hands
#              it to gitmig, so both agree on every runner OS
#
# Environment: GITMIG_VERSION (the version input), GITMIG_ACTION_REF (the ref the
# action is used at, possibly empty), RUNNER_TEMP, RUNNER_TOOL_CACHE, GITHUB_OUTPUT.
set -euo pipefail

release='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
version=${GITMIG_VERSION:-}
if [ -z "$version" ]; then
	# gitmig/gitmig@v0.1.0 installs v0.1.0; @main, @<commit> or ./ build that checkout.
	version=source
	if [[ "${GITMIG_ACTION_REF:-}" =~ $release ]]; then
		version=$GITMIG_ACTION_REF
	fi
fi
if [ "$version" != source ] && ! [[ "$version" =~ $release ]]; then
	echo "::error title=gitmig::version input \"$version\": want a release tag such as v0.1.0, or \"source\""
	exit 1
fi

if [ "$version" = source ]; then
	bin_dir="$RUNNER_TEMP/gitmig-source/bin"
else
	bin_dir="${RUNNER_TOOL_CACHE:-$RUNNER_TEMP}/gitmig/$version/bin"
fi
cache_dir=${GITMIG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitmig/builds}
if [ "$cache_dir" != off ]; then
	# actions/cache warns about a path that does not exist when it saves.
	mkdir -p "$cache_dir"
fi

{
	echo "version=$version"
	echo "source=$([ "$version" = source ] && echo true || echo false)"
	echo "bin-dir=$bin_dir"
	echo "cache-dir=$cache_dir"
} >>"$GITHUB_OUTPUT"
echo "gitmig $version into $bin_dir; kustomize build cache $cache_dir"
