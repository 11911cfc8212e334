package pr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
)

var clock = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

// setup makes a GitOps work tree holding the example fleet, whose gitmig.yaml names
// the local forge on a bare remote beside it by a relative path, and opens two pull
// requests there. It returns the work tree and the remote.
func setup(t *testing.T, forgeName string) (repo, remote string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is required: go-git runs git-upload-pack and git-receive-pack for local remotes")
	}
	root := t.TempDir()
	repo, remote = filepath.Join(root, "work"), filepath.Join(root, "fleet.git")
	// The example's own gitmig.yaml names GitHub; example.WriteTree points it at the
	// local forge on the remote beside the work tree.
	write := func() error { return example.WriteTree(repo, "../fleet.git") }
	if forgeName == "github" {
		write = func() error { return os.CopyFS(repo, gitmig.Example) }
	}
	if err := write(); err != nil {
		t.Fatal(err)
	}
	seed := fstest.MapFS{"clusters/edge/kustomization.yaml": {Data: []byte("resources: []\n")}}
	if _, err := workspace.Seed(remote, "main", seed, "gitmig", "gitmig@localhost", clock); err != nil {
		t.Fatal(err)
	}
	return repo, remote
}

// openPRs pushes two step branches and opens their pull requests, #1 and #2.
func openPRs(t *testing.T, remote string) {
	t.Helper()
	dev, err := git.PlainClone(filepath.Join(t.TempDir(), "dev"), false, &git.CloneOptions{URL: remote})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := dev.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	main, err := dev.Head()
	if err != nil {
		t.Fatal(err)
	}
	f, err := local.New(local.Options{Remote: remote, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []step.Step{step.Deploy, step.Route} {
		if err := wt.Checkout(&git.CheckoutOptions{Hash: main.Hash(), Force: true}); err != nil {
			t.Fatal(err)
		}
		name := "clusters/cloud/" + s.String() + ".yaml"
		if err := os.MkdirAll(filepath.Join(wt.Filesystem.Root(), "clusters/cloud"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wt.Filesystem.Root(), name), []byte("step: "+s.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add(name); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "Dev", Email: "dev@example.org", When: clock}
		h, err := wt.Commit(s.String(), &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		branch := step.BranchOf("orc8r-edge-to-cloud", s)
		if err := dev.Push(&git.PushOptions{RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec(h.String() + ":refs/heads/" + branch)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Create(context.Background(), forge.NewPullRequest{Title: "gitmig: move orc8r edge→cloud [" + s.String() + "]", Head: branch}); err != nil {
			t.Fatal(err)
		}
	}
}

// gitmigPR runs `gitmig pr args...` on repo and returns stdout.
func gitmigPR(t *testing.T, repo string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &cmdutil.Globals{Repo: repo}
	cmd := NewCmd(cmdutil.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut}, g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.Execute()
	return out.String(), err
}

func TestListMergeClose(t *testing.T) {
	repo, remote := setup(t, "local")
	if out, err := gitmigPR(t, repo, "list"); err != nil || !strings.Contains(out, "no pull requests on "+remote) {
		t.Errorf("list with none: %q, %v", out, err)
	}
	openPRs(t, remote)

	out, err := gitmigPR(t, repo, "merge", "1")
	if err != nil {
		t.Fatal(err)
	}
	mainTip := gitOut(t, remote, "rev-parse", "main")
	if out != "merged #1 into main: "+mainTip+"\n" {
		t.Errorf("merge printed %q; main is %s", out, mainTip)
	}
	if parents := strings.Fields(gitOut(t, remote, "log", "-1", "--format=%P", "main")); len(parents) != 2 {
		t.Errorf("main's tip has parents %v, want a merge commit", parents)
	}
	if out, err := gitmigPR(t, repo, "close", "2", "--comment", "cloud is overloaded too"); err != nil || out != "closed #2\n" {
		t.Errorf("close printed %q, %v", out, err)
	}

	out, err = gitmigPR(t, repo, "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	want := []map[string]any{
		{"number": 1.0, "title": "gitmig: move orc8r edge→cloud [1-deploy]", "head": "gitmig/orc8r-edge-to-cloud/1-deploy", "state": "merged", "url": remote + "#pull/1", "mergeCommit": mainTip},
		{"number": 2.0, "title": "gitmig: move orc8r edge→cloud [2-route]", "head": "gitmig/orc8r-edge-to-cloud/2-route", "state": "closed", "url": remote + "#pull/2"},
	}
	if len(list) != len(want) {
		t.Fatalf("list -o json has %d items, want %d:\n%s", len(list), len(want), out)
	}
	for i, fields := range want {
		for k, v := range fields {
			if list[i][k] != v {
				t.Errorf("item %d: %s = %v, want %v", i, k, list[i][k], v)
			}
		}
	}
	comments, _ := list[1]["comments"].([]any)
	if len(comments) != 1 || comments[0].(map[string]any)["body"] != "cloud is overloaded too" {
		t.Errorf("closed pull request's comments = %v", list[1]["comments"])
	}

	out, err = gitmigPR(t, repo, "list")
	if err != nil {
		t.Fatal(err)
	}
	wantTable := "NUMBER  STATE   CHECKS  TITLE                                     HEAD\n" +
		"1       merged  -       gitmig: move orc8r edge→cloud [1-deploy]  gitmig/orc8r-edge-to-cloud/1-deploy\n" +
		"2       closed  -       gitmig: move orc8r edge→cloud [2-route]   gitmig/orc8r-edge-to-cloud/2-route\n"
	if out != wantTable {
		t.Errorf("list table:\n%s\nwant:\n%s", out, wantTable)
	}
	gitOut(t, remote, "fsck", "--strict", "--no-dangling")
}

func TestErrors(t *testing.T) {
	repo, remote := setup(t, "local")
	openPRs(t, remote)
	if _, err := gitmigPR(t, repo, "merge", "9"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("merge 9: %v, want not found", err)
	}
	if _, err := gitmigPR(t, repo, "merge", "one"); err == nil || !strings.Contains(err.Error(), "not a pull request number") {
		t.Errorf("merge one: %v", err)
	}
	if _, err := gitmigPR(t, repo, "list", "-o", "yaml"); err == nil {
		t.Error("list -o yaml succeeded")
	}
	if _, err := gitmigPR(t, repo, "close", "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := gitmigPR(t, repo, "merge", "1"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("merge of a closed pull request: %v", err)
	}
}

func TestRefusesGitHub(t *testing.T) {
	repo, _ := setup(t, "github")
	_, err := gitmigPR(t, repo, "list")
	if err == nil || !strings.Contains(err.Error(), "GitHub's UI") {
		t.Errorf("pr list with forge github: %v", err)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// A title written by anyone can neither rewrite the terminal nor break the table.
func TestListTableDropsControlSequences(t *testing.T) {
	var out strings.Builder
	db := &local.Database{Pulls: []local.Pull{{Number: 3, State: forge.StateOpen, Title: "gitmig: move x [1/4 deploy]\x1b]0;pwned\x07\x1b[2J\nforged row", Head: "gitmig/x/1-deploy"}}}
	if err := writeTable(&out, db, "fleet.git"); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(out.String(), "\x1b\x07") || strings.Count(out.String(), "\n") != 2 {
		t.Errorf("table: %q", out.String())
	}
}
