#!/usr/bin/env bash
# Runs one gitmig command for the gitmig action and puts it on the job summary.
#
# GITMIG_COMMAND is split into arguments on whitespace, with no quoting, globbing or
# expansion, so no input can run shell code. The Prometheus URL and the token become
# GITMIG_PROMETHEUS_URL and GITMIG_GITHUB_TOKEN only when given, so the job's own
# environment stays in force otherwise; the kubeconfig is written with mode 0600.
#
# gitmig reconcile writes its own Markdown summary to $GITHUB_STEP_SUMMARY. For a
# command that writes none (verify, plan, migrate, status), the output goes there as a
# code block, or as it is for `-o markdown`, after a caution when the command failed.
# The exit status is gitmig's.
#
# Environment: GITMIG_COMMAND, GITMIG_REPO, GITMIG_CONFIG, GITMIG_PROMETHEUS_URL_INPUT,
# GITMIG_TOKEN_INPUT, GITMIG_KUBECONFIG_DATA, GITMIG_KUBECONFIG_PATH, GITMIG_CACHE_DIR,
# GITHUB_STEP_SUMMARY (optional).
set -euo pipefail

set -f
# shellcheck disable=SC2206 # splitting on whitespace, and only that, is the point
words=(${GITMIG_COMMAND:-})
set +f
if [ ${#words[@]} -eq 0 ]; then
	echo "::error title=gitmig::the command input is empty"
	exit 1
fi
args=(--repo "${GITMIG_REPO:-.}")
if [ -n "${GITMIG_CONFIG:-}" ]; then
	args+=(--config "$GITMIG_CONFIG")
fi
args+=("${words[@]}")

if [ -n "${GITMIG_PROMETHEUS_URL_INPUT:-}" ]; then
	export GITMIG_PROMETHEUS_URL=$GITMIG_PROMETHEUS_URL_INPUT
fi
if [ -n "${GITMIG_TOKEN_INPUT:-}" ]; then
	export GITMIG_GITHUB_TOKEN=$GITMIG_TOKEN_INPUT
fi
if [ -n "${GITMIG_KUBECONFIG_DATA:-}" ]; then
	path=${GITMIG_KUBECONFIG_PATH:-"$HOME/.kube/config"}
	case "$path" in
	\~/*) path="$HOME/${path#\~/}" ;;
	esac
	mkdir -p "$(dirname "$path")"
	(
		umask 077
		printf '%s\n' "$GITMIG_KUBECONFIG_DATA" >"$path"
	)
fi
unset GITMIG_TOKEN_INPUT GITMIG_KUBECONFIG_DATA

summary=${GITHUB_STEP_SUMMARY:-}
size() { if [ -f "$1" ]; then wc -c <"$1"; else echo 0; fi; }
before=0
if [ -n "$summary" ]; then
	before=$(size "$summary")
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "gitmig ${args[*]}"
status=0
gitmig "${args[@]}" 2>&1 | tee "$out" || status=${PIPESTATUS[0]}

if [ -n "$summary" ] && [ "$(size "$summary")" -eq "$before" ]; then
	fence='````'
	lang=text
	case " ${words[*]} " in
	*" -o markdown "* | *" -omarkdown "* | *" -o=markdown "* | *" --output markdown "* | *" --output=markdown "*) fence="" ;;
	" migrate "*) lang="diff" ;;
	esac
	{
		printf '## gitmig %s\n\n' "${words[*]}"
		if [ "$status" -ne 0 ]; then
			printf '> [!CAUTION]\n> gitmig exited with status %s.\n\n' "$status"
		fi
		if [ -n "$fence" ]; then
			printf '%s%s\n' "$fence" "$lang"
		fi
		cat "$out"
		# The closing fence on a line of its own.
		if [ -n "$(tail -c 1 "$out")" ]; then
			echo
		fi
		printf '%s\n\n' "$fence"
	} >>"$summary"
fi
exit "$status"
