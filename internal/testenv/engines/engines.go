// Package engines runs the real GitOps engines around kubeenv's API servers, for the
// tests in which Argo CD or Flux, not the test, applies gitmig's merged steps:
//
//   - Workers turns a kubeenv cluster into one that runs workloads: its own
//     kube-controller-manager and kube-scheduler, and kwok with fake nodes whose
//     allocatable is the cluster's capacity, so a Deployment gets real ReplicaSets and
//     Pods that are scheduled, become Ready and count as available;
//   - NewGitServer serves a bare repository over git's smart HTTP protocol
//     (fluxcd/pkg/gittestserver), the remote gitmig and the engines share;
//   - StartFlux runs source-controller and kustomize-controller, StartArgoCD runs
//     Argo CD's repo-server and application-controller (with Debian's redis-server),
//     both on a management cluster, bootstrapped from the project's flux/ and argocd/
//     folders with only the repository URL and the cluster credentials changed.
//
// The binaries come from hack/engines/build.sh and hack/kube/build.sh, cached outside
// the clone. When one is missing the test is skipped with a message that says how to
// build it, and fails when CI=true.
//
// It is test support: import it from _test.go files only.
package engines

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// Versions of the tools hack/engines/build.sh builds; they name the cache folders.
const (
	ArgoCDVersion    = "v3.2.0"
	FluxVersion      = "v1.9.0" // source-controller and kustomize-controller
	KwokVersion      = "v0.8.0"
	KustomizeVersion = "v5.8.1"
)

// cacheDir is where hack/*/build.sh put their binaries.
func cacheDir(t testing.TB) string {
	if dir := os.Getenv("GITMIG_E2E_CACHE"); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatalf("finding the binary cache: %v", err)
	}
	return filepath.Join(home, ".cache", "gitmig-e2e")
}

// tool returns the path of a file that `bash hack/engines/build.sh target` puts in
// <cache>/<target>-<version>/, skipping the test (failing it in CI) when it is missing.
func tool(t testing.TB, target, version, name string) string {
	t.Helper()
	return CachedTool(t, "hack/engines/build.sh", target, version, name)
}

// CachedTool returns the path of a file that `bash <script> target` puts in
// <cache>/<target>-<version>/, skipping the test (failing it in CI) when it is missing.
func CachedTool(t testing.TB, script, target, version, name string) string {
	t.Helper()
	path := filepath.Join(cacheDir(t), target+"-"+version, name)
	if info, err := os.Stat(path); err != nil || info.IsDir() || info.Size() == 0 {
		kubeenv.Unavailable(t, "%s %s not found at %s: build it with `bash %s %s` (minutes the first time, cached after)",
			name, version, path, script, target)
	}
	return path
}

// Command returns the path of a program in PATH, skipping the test (failing it in CI)
// when it is missing.
func Command(t testing.TB, name, how string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		kubeenv.Unavailable(t, "%s not found in PATH: %s", name, how)
	}
	return path
}
