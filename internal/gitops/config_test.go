package gitops

import (
	"slices"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/gate"
)

// Passes share the decoded gitmig.yaml while the base branch's bytes stay the same,
// with the work tree's when they are equal: the gate is made once per version of the
// file, and the work tree is said to differ only once it does.
func TestPassesDecodeTheBaseBranchConfigOncePerVersion(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	r.Config, r.WorkTree = nil, f.cfg
	var gatedWith []*config.Config
	r.GateFor = func(cfg *config.Config) (gate.Gate, error) {
		gatedWith = append(gatedWith, cfg)
		return gate.Merged{}, nil
	}
	differs := func(notes []string) bool {
		return slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "gitmig.yaml here differs") })
	}

	for pass := 1; pass <= 2; pass++ {
		if rep := mustPass(t, r); differs(rep.Notes) {
			t.Errorf("pass %d over the work tree's own gitmig.yaml: %q", pass, rep.Notes)
		}
	}
	if len(gatedWith) != 1 || gatedWith[0] != f.cfg {
		t.Fatalf("two passes over the work tree's gitmig.yaml made the gate from %d configs, want the work tree's once", len(gatedWith))
	}

	edited := strings.Replace(f.git("show", "main:gitmig.yaml"), "\n  cooldown: 1h\n", "\n  cooldown: 2h\n", 1)
	if edited == f.git("show", "main:gitmig.yaml") {
		t.Fatal("the example's gitmig.yaml has no policy.cooldown of 1h to edit")
	}
	newAttacker(f).commitFiles("origin/main", "main", "policy: longer cooldown", map[string]string{"gitmig.yaml": edited})
	for pass := 1; pass <= 2; pass++ {
		if rep := mustPass(t, r); !differs(rep.Notes) {
			t.Errorf("pass %d after main's gitmig.yaml changed: no note that the work tree's differs: %q", pass, rep.Notes)
		}
	}
	if len(gatedWith) != 2 || gatedWith[1] == f.cfg || gatedWith[1].Policy.Cooldown.Duration.Hours() != 2 {
		t.Fatalf("after main's gitmig.yaml changed, two passes made the gate %d times in all, want twice, the second from main's", len(gatedWith))
	}
}
