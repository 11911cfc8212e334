package engines

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestVersions checks that the harness looks for the versions hack/engines builds.
func TestVersions(t *testing.T) {
	hack := filepath.Join("..", "..", "..", "hack", "engines")
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(hack, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	for _, c := range []struct {
		file, pattern, want string
	}{
		{"build.sh", `(?m)^kwok_version=(\S+)$`, KwokVersion},
		{"build.sh", `(?m)^kustomize_version=(\S+)$`, KustomizeVersion},
		{"argocd/go.mod", `(?m)^\s*(?:require\s+)?github\.com/argoproj/argo-cd/v3 (v\S+)`, ArgoCDVersion},
		{"flux/go.mod", `(?m)^\s*(?:require\s+)?github\.com/fluxcd/source-controller (v\S+)`, FluxVersion},
		{"flux/go.mod", `(?m)^\s*(?:require\s+)?github\.com/fluxcd/kustomize-controller (v\S+)`, FluxVersion},
	} {
		m := regexp.MustCompile(c.pattern).FindStringSubmatch(read(c.file))
		if m == nil {
			t.Errorf("hack/engines/%s: no match for %s", c.file, c.pattern)
			continue
		}
		if m[1] != c.want {
			t.Errorf("hack/engines/%s has %s, the harness looks for %s: make them agree", c.file, m[1], c.want)
		}
	}
}
