// Package workflows tests what the repository ships besides gitmig itself: the GitHub
// Actions workflows in .github/workflows and examples/fleet-repo (triggers, schedule,
// inputs, concurrency, permissions, and that no input or secret reaches a shell script
// as text); the GitHub Action, action.yml and its scripts, run as a runner would; the
// fleet CI's commands on a copy of the example fleet; the release's Dockerfile; and
// the Argo CD and Flux bootstrap folders (that they build, match gitmig.yaml, and
// prune). It has no code of its own.
package workflows
