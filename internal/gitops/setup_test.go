package gitops

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
)

func TestNewSetupResolvesTheRemote(t *testing.T) {
	repo := t.TempDir()
	for remote, want := range map[string]string{
		"../fleet.git":                     filepath.Join(filepath.Dir(repo), "fleet.git"),
		"/srv/git/fleet.git":               "/srv/git/fleet.git",
		"https://github.com/example/fleet": "https://github.com/example/fleet",
		"git@github.com:example/fleet.git": "git@github.com:example/fleet.git",
		"file:///srv/git/fleet.git":        "file:///srv/git/fleet.git",
		"./clusters:old/fleet.git":         filepath.Join(repo, "clusters:old/fleet.git"),
	} {
		cfg := &config.Config{GitOps: config.GitOps{Remote: remote, Branch: "main", Forge: config.ForgeLocal}}
		s, err := NewSetup(cfg, repo, func(string) string { return "" })
		if err != nil || s.Remote != want {
			t.Errorf("remote %q: got %q, %v; want %q", remote, s.Remote, err, want)
		}
	}
}

func TestNewSetupReadsTheTokenFromTheNamedVariable(t *testing.T) {
	cfg := &config.Config{GitOps: config.GitOps{Remote: "https://github.com/example/fleet", Branch: "main", Forge: config.ForgeGitHub,
		GitHub: &config.GitHub{Owner: "example", Repo: "fleet", TokenEnv: "FLEET_TOKEN"}}}
	env := map[string]string{"FLEET_TOKEN": "ghs_secret"}
	s, err := NewSetup(cfg, "", func(k string) string { return env[k] })
	if err != nil || s.Token != "ghs_secret" {
		t.Fatalf("token %q, %v", s.Token, err)
	}
	delete(env, "FLEET_TOKEN")
	_, err = NewSetup(cfg, "", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "set the environment variable FLEET_TOKEN") {
		t.Fatalf("missing token: %v", err)
	}
}
