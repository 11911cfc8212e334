package local

import (
	"path/filepath"
	"testing"
)

func TestEndpoint(t *testing.T) {
	abs, err := filepath.Abs("fleet.git")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ remote, transport, display string }{
		{"fleet.git", abs, abs},
		{"/srv/git/fleet.git", "/srv/git/fleet.git", "/srv/git/fleet.git"},
		{"file:///srv/git/fleet.git", "/srv/git/fleet.git", "/srv/git/fleet.git"},
		{"https://x-access-token:tok@git.example.org/fleet.git", "https://x-access-token:tok@git.example.org/fleet.git", "https://git.example.org/fleet.git"},
		{"git@git.example.org:ops/fleet.git", "git@git.example.org:ops/fleet.git", "ssh://git@git.example.org/ops/fleet.git"},
	} {
		tr, display, err := endpoint(tc.remote)
		if err != nil {
			t.Errorf("%s: %v", tc.remote, err)
			continue
		}
		if tr != tc.transport || display != tc.display {
			t.Errorf("%s: transport %q, shown %q; want %q, %q", tc.remote, tr, display, tc.transport, tc.display)
		}
	}
}
