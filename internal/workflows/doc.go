// Package workflows tests what the repository ships besides gitmig itself: the GitHub
// Actions workflows in .github/workflows (triggers, schedule, inputs, concurrency,
// permissions, and that no input or secret reaches a shell script as text) and the
// Argo CD and Flux bootstrap folders argocd/ and flux/ (that they build, match
// gitmig.yaml, and prune). It has no code of its own.
package workflows
