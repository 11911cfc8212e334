package dataplane

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestVersions checks that the harness looks for the versions hack/dataplane builds.
func TestVersions(t *testing.T) {
	hack := filepath.Join("..", "..", "..", "hack", "dataplane")
	for _, c := range []struct {
		file, pattern, want string
	}{
		{"build.sh", `(?m)^coredns_version=(\S+)$`, CoreDNSVersion},
		{"traefik/go.mod", `(?m)^\s*(?:require\s+)?github\.com/traefik/traefik/v3 (v\S+)`, TraefikVersion},
	} {
		data, err := os.ReadFile(filepath.Join(hack, c.file))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(c.pattern).FindStringSubmatch(string(data))
		if m == nil {
			t.Errorf("hack/dataplane/%s: no match for %s", c.file, c.pattern)
			continue
		}
		if m[1] != c.want {
			t.Errorf("hack/dataplane/%s has %s, the harness looks for %s: make them agree", c.file, m[1], c.want)
		}
	}
}
