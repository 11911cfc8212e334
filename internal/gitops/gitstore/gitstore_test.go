package gitstore

import (
	"context"
	"errors"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/gitmig/gitmig/internal/tree"
)

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

var sig = object.Signature{Name: "gitmig", Email: "gitmig@localhost", When: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)}

// store is an in-memory repository with a remote named origin at a new bare one.
func store(t *testing.T) (*git.Repository, *git.Remote, string) {
	t.Helper()
	bare := filepath.Join(t.TempDir(), "remote.git")
	if _, err := git.PlainInit(bare, true); err != nil {
		t.Fatal(err)
	}
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{bare}})
	if err != nil {
		t.Fatal(err)
	}
	return repo, remote, bare
}

func commit(t *testing.T, repo *git.Repository, parent plumbing.Hash, edits ...tree.Edit) plumbing.Hash {
	t.Helper()
	base := plumbing.ZeroHash
	var parents []plumbing.Hash
	if !parent.IsZero() {
		c, err := object.GetCommit(repo.Storer, parent)
		if err != nil {
			t.Fatal(err)
		}
		base, parents = c.TreeHash, []plumbing.Hash{parent}
	}
	root, err := ApplyEdits(repo.Storer, base, edits)
	if err != nil {
		t.Fatal(err)
	}
	h, err := WriteCommit(repo.Storer, root, parents, "commit\n", sig)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestPushMovesRefsOnlyFromWhatTheyHold(t *testing.T) {
	repo, remote, bare := store(t)
	ctx := context.Background()
	ref := plumbing.NewBranchReferenceName("gitmig/m/1-deploy")
	a := commit(t, repo, plumbing.ZeroHash, tree.Edit{Path: "a.yaml", Content: []byte("a\n")})
	b := commit(t, repo, a, tree.Edit{Path: "b.yaml", Content: []byte("b\n")})
	other := commit(t, repo, a, tree.Edit{Path: "c.yaml", Content: []byte("c\n")})
	lease := func(h plumbing.Hash) *plumbing.Hash { return &h }

	// Created only where absent.
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: a, Lease: lease(plumbing.ZeroHash)}); err != nil {
		t.Fatal(err)
	}
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: other, Lease: lease(plumbing.ZeroHash)}); !errors.Is(err, ErrMoved) {
		t.Fatalf("creating an existing ref: %v, want ErrMoved", err)
	}
	// Forward without a lease; not sideways.
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: b}); err != nil {
		t.Fatal(err)
	}
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: other}); !errors.Is(err, ErrMoved) {
		t.Fatalf("a push that is not a fast-forward: %v, want ErrMoved", err)
	}
	// Sideways with the lease of what it holds; not with a stale one.
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: other, Lease: lease(a)}); !errors.Is(err, ErrMoved) {
		t.Fatalf("a stale lease: %v, want ErrMoved", err)
	}
	if got := gitCLI(t, bare, "rev-parse", ref.String()); got != b.String() {
		t.Fatalf("after the refused pushes the remote holds %s, want %s", got, b)
	}
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: other, Lease: lease(b)}); err != nil {
		t.Fatal(err)
	}
	if got := gitCLI(t, bare, "rev-parse", ref.String()); got != other.String() {
		t.Fatalf("remote holds %s, want %s", got, other)
	}
	// Pushing what is there already is done.
	if err := Push(ctx, remote, repo.Storer, nil, Update{Ref: ref, New: other, Lease: lease(b)}); err != nil {
		t.Fatalf("pushing the commit the remote holds: %v", err)
	}
	// The lease leaves no ref behind in the local store.
	refs, _ := repo.Storer.IterReferences()
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		if strings.Contains(r.Name().String(), "gitmig-lease") {
			t.Errorf("left behind %s", r.Name())
		}
		return nil
	})
	gitCLI(t, bare, "fsck", "--strict")
}

func TestApplyEditsAndTree(t *testing.T) {
	repo, _, _ := store(t)
	first := commit(t, repo, plumbing.ZeroHash,
		tree.Edit{Path: "clusters/edge/kustomization.yaml", Content: []byte("resources: []\n")},
		tree.Edit{Path: "clusters/edge/gitmig/old.yaml", Content: []byte("old\n")},
		tree.Edit{Path: "gitmig.yaml", Content: []byte("kind: Config\n")})
	second := commit(t, repo, first,
		tree.Edit{Path: "clusters/edge/gitmig/old.yaml", Delete: true},
		tree.Edit{Path: "clusters/fog/kustomization.yaml", Content: []byte("resources: []\n")})
	files, err := Tree(repo.Storer, second)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	if err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The emptied gitmig/ folder is gone, as git keeps no empty folders.
	if got := strings.Join(paths, " "); got != "clusters/edge/kustomization.yaml clusters/fog/kustomization.yaml gitmig.yaml" {
		t.Errorf("files: %s", got)
	}
	if h, err := files.Hash("gitmig.yaml"); err != nil || h != tree.BlobHash([]byte("kind: Config\n")) {
		t.Errorf("Hash = %s, %v; want the blob id of the content", h, err)
	}
	if _, err := files.ReadFile("clusters/edge/gitmig/old.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reading a deleted file: %v", err)
	}
	if _, err := files.ReadFile("../outside"); err == nil {
		t.Error("read a path outside the tree")
	}
	if info, err := files.Stat("clusters"); err != nil || !info.IsDir() {
		t.Errorf("Stat(clusters) = %v, %v", info, err)
	}
}
