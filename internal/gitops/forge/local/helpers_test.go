package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// clock is the fixed time of the tests, in a zone other than UTC so that signatures
// carry a real offset.
var clock = time.Date(2026, 11, 27, 9, 30, 0, 0, time.FixedZone("CET", 3600))

// fixture is a bare remote and a developer's clone that pushes branches to it.
type fixture struct {
	t      *testing.T
	remote string
	dev    *git.Repository
	devDir string
}

// newFixture makes a bare remote whose main holds files.
func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	requireGit(t)
	root := t.TempDir()
	fx := &fixture{t: t, remote: filepath.Join(root, "fleet.git"), devDir: filepath.Join(root, "dev")}
	bare, err := git.PlainInit(fx.remote, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName("main"))); err != nil {
		t.Fatal(err)
	}
	if fx.dev, err = git.PlainInit(fx.devDir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.dev.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{fx.remote}}); err != nil {
		t.Fatal(err)
	}
	fx.commit("main", "", files, "seed the fleet")
	return fx
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is required: go-git runs git-upload-pack and git-receive-pack for local remotes")
	}
}

// forge returns a new local forge on the fixture's remote, as a separate gitmig run
// would have.
func (fx *fixture) forge() *Forge {
	fx.t.Helper()
	f, err := New(Options{Remote: fx.remote, AuthorName: "gitmig test", AuthorEmail: "gitmig@example.org", Now: func() time.Time { return clock }})
	if err != nil {
		fx.t.Fatal(err)
	}
	return f
}

// commit writes files (an empty content deletes) on top of the remote's branch from,
// or of branch itself when from is empty, and pushes the commit as branch.
func (fx *fixture) commit(branch, from string, files map[string]string, msg string) plumbing.Hash {
	t := fx.t
	t.Helper()
	err := fx.dev.Fetch(&git.FetchOptions{RefSpecs: []gitconfig.RefSpec{"+refs/heads/*:refs/remotes/origin/*"}})
	if err != nil && err != git.NoErrAlreadyUpToDate && !strings.Contains(err.Error(), "remote repository is empty") {
		t.Fatal(err)
	}
	if from == "" {
		from = branch
	}
	wt, err := fx.dev.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if parent, err := fx.dev.Reference(plumbing.NewRemoteReferenceName("origin", from), true); err == nil {
		if err := wt.Checkout(&git.CheckoutOptions{Hash: parent.Hash(), Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range files {
		p := filepath.Join(fx.devDir, name)
		if content == "" {
			if _, err := wt.Remove(name); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "Dev", Email: "dev@example.org", When: clock.Add(-time.Hour)}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	fx.pushHash(h, branch)
	return h
}

// pushHash points the remote's branch at h, by force.
func (fx *fixture) pushHash(h plumbing.Hash, branch string) {
	fx.t.Helper()
	spec := gitconfig.RefSpec("+" + h.String() + ":refs/heads/" + branch)
	if err := fx.dev.Push(&git.PushOptions{RefSpecs: []gitconfig.RefSpec{spec}}); err != nil && err != git.NoErrAlreadyUpToDate {
		fx.t.Fatal(err)
	}
}

// git runs the git CLI on the remote and returns its trimmed output.
func (fx *fixture) git(args ...string) string {
	fx.t.Helper()
	return gitIn(fx.t, fx.remote, args...)
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// fsck checks every object of the remote strictly, as a server with
// receive.fsckObjects would.
func (fx *fixture) fsck() {
	fx.t.Helper()
	fx.git("fsck", "--strict", "--no-dangling")
}

// forgeCommits counts the forge ref's commits, one per recorded change.
func (fx *fixture) forgeCommits() int {
	fx.t.Helper()
	n, err := strconv.Atoi(fx.git("rev-list", "--count", string(ForgeRef)))
	if err != nil {
		fx.t.Fatal(err)
	}
	return n
}
