// Package gitops carries migrations out through Git: one reconcile pass rebuilds its
// state from the repository (migration records and overlays), the forge (pull requests
// by branch) and the gates, advances each migration by at most one step, then starts
// new ones from the plan while fewer than policy.maxConcurrent are in flight.
//
// A pass is idempotent and level-triggered: killed at any point and run again, it
// converges without a duplicate branch, pull request, commit or record. Concurrent
// passes are serialised by pushes to the base branch: a rejected push means another
// pass got there first, so the pass refetches and recomputes.
package gitops
