#!/usr/bin/env bash
# Puts gitmig on the job's PATH for the gitmig action: builds the action's checkout with
# hack/release/build.sh (GITMIG_VERSION=source), or downloads the release archive for
# this runner and checks it against the release's sha256 checksums file. A binary
# already in GITMIG_BIN_DIR (restored by actions/cache) is kept.
#
# Environment: GITMIG_VERSION, GITMIG_BIN_DIR (from resolve.sh), GITHUB_ACTION_PATH,
# GITHUB_PATH; GITMIG_RELEASE_URL replaces the releases' address (a mirror, a test).
set -euo pipefail

fail() {
	echo "::error title=gitmig::$*"
	exit 1
}

version=${GITMIG_VERSION:?}
bin_dir=${GITMIG_BIN_DIR:?}
mkdir -p "$bin_dir"

if [ "$version" = source ]; then
	# The same flags as the release archives; the version says where it came from.
	"$GITHUB_ACTION_PATH/hack/release/build.sh" binary "$bin_dir/gitmig"
elif [ -x "$bin_dir/gitmig" ]; then
	echo "gitmig $version restored from the cache"
else
	case "$(uname -s)" in
	Linux) os=linux ;;
	Darwin) os=darwin ;;
	*) fail "gitmig releases are built for Linux and macOS runners, not $(uname -s); use version: source" ;;
	esac
	case "$(uname -m)" in
	x86_64 | amd64) arch=amd64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) fail "gitmig releases are built for amd64 and arm64, not $(uname -m); use version: source" ;;
	esac
	base=${GITMIG_RELEASE_URL:-https://github.com/gitmig/gitmig/releases/download}
	archive="gitmig_${version}_${os}_${arch}.tar.gz"
	sums="gitmig_${version}_checksums.txt"
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for f in "$archive" "$sums"; do
		curl -fsSL --retry 3 -o "$tmp/$f" "$base/$version/$f" || fail "downloading $base/$version/$f failed"
	done
	want=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$tmp/$sums")
	[ -n "$want" ] || fail "$sums of $version lists no $archive"
	if command -v sha256sum >/dev/null; then
		got=$(sha256sum "$tmp/$archive" | awk '{ print $1 }')
	else
		got=$(shasum -a 256 "$tmp/$archive" | awk '{ print $1 }')
	fi
	[ "$got" = "$want" ] || fail "$archive does not match $sums: sha256 $got, want $want"
	tar -xzf "$tmp/$archive" -C "$tmp" gitmig
	mv "$tmp/gitmig" "$bin_dir/gitmig"
	chmod 0755 "$bin_dir/gitmig"
fi

echo "$bin_dir" >>"$GITHUB_PATH"
"$bin_dir/gitmig" version
