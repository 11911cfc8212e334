#!/usr/bin/env bash
# Builds gitmig as releases ship it: a static binary (CGO_ENABLED=0, -trimpath) whose
# version, commit and date are stamped with -ldflags, so that `gitmig version` says what
# it was built from. The release workflow, the Dockerfile and the GitHub Action's
# build-from-source mode all build through this script, so they use the same flags.
#
# Usage: hack/release/build.sh binary OUT
#          builds for $GOOS/$GOARCH (default: this machine) into the file OUT
#        hack/release/build.sh archives [OS/ARCH...]
#          builds $DIST/gitmig_<version>_<os>_<arch>.tar.gz (gitmig and README.md) for
#          each target (default: linux and darwin on amd64 and arm64), then checksums
#        hack/release/build.sh checksums
#          writes $DIST/gitmig_<version>_checksums.txt (sha256sum's format) over the
#          archives of this version in $DIST
#
# Environment:
#   VERSION  the release, such as v1.2.3 (default: git describe, else "devel")
#   COMMIT   the commit (default: git rev-parse HEAD, else "unknown")
#   DATE     RFC 3339 (default: the commit's time in UTC, so rebuilding a commit gives
#            the same binary)
#   DIST     where archives and checksums go (default: dist in the repository)
#
# Archives need GNU tar (the release runs on Linux) for a reproducible file order,
# owner and time.
set -euo pipefail

abspath() {
	case "$1" in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

usage() {
	echo "usage: $0 binary OUT | archives [OS/ARCH...] | checksums" >&2
	exit 2
}

[ $# -ge 1 ] || usage
mode=$1
shift
out=""
if [ "$mode" = binary ]; then
	[ $# -eq 1 ] || usage
	out=$(abspath "$1")
fi
dist=$(abspath "${DIST:-$(dirname "$0")/../../dist}")
cd "$(dirname "$0")/../.."

# Outside a git checkout (a Docker build context, a downloaded action) the defaults fall
# back, and the caller passes what it knows.
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
commit=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
date=${DATE:-$(TZ=UTC0 git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || echo unknown)}

pkg=github.com/gitmig/gitmig/internal/cmd/version
ldflags="-s -w -X $pkg.version=$version -X $pkg.commit=$commit -X $pkg.date=$date"

build() { # OUT
	CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$1" ./cmd/gitmig
}

checksums() {
	local sums="gitmig_${version}_checksums.txt"
	(
		cd "$dist"
		shopt -s nullglob
		archives=("gitmig_${version}_"*.tar.gz)
		if [ ${#archives[@]} -eq 0 ]; then
			echo "no gitmig_${version}_*.tar.gz in $dist" >&2
			exit 1
		fi
		sha256sum "${archives[@]}" >"$sums"
	)
	echo "$dist/$sums"
}

case "$mode" in
binary)
	mkdir -p "$(dirname "$out")"
	build "$out"
	;;
archives)
	targets=("$@")
	if [ ${#targets[@]} -eq 0 ]; then
		targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64)
	fi
	mtime=$date
	if [ "$mtime" = unknown ]; then
		mtime=@0
	fi
	mkdir -p "$dist"
	for target in "${targets[@]}"; do
		os=${target%/*}
		arch=${target#*/}
		name="gitmig_${version}_${os}_${arch}"
		stage=$(mktemp -d)
		GOOS=$os GOARCH=$arch build "$stage/gitmig"
		cp README.md "$stage/"
		tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -C "$stage" -cf - gitmig README.md |
			gzip -9n >"$dist/$name.tar.gz"
		rm -rf "$stage"
		echo "$dist/$name.tar.gz"
	done
	checksums
	;;
checksums)
	checksums
	;;
*)
	usage
	;;
esac
