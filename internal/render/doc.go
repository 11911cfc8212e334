// Package render models a GitOps repository of kustomize overlays, one per cluster, and
// writes the four overlay edits that move a service between clusters: deploy, route,
// flip and cleanup. It also verifies that every service stays reachable in a tree.
//
// Everything here is a pure function of the repository tree: it reads files, runs
// kustomize in process and returns edits; it never touches git or a cluster.
package render
