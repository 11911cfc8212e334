package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitmig/gitmig/internal/tree"
)

var epoch = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func seeded(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet.git")
	files := fstest.MapFS{
		"gitmig.yaml":                      {Data: []byte("kind: Config\n")},
		"clusters/edge/kustomization.yaml": {Data: []byte("resources: []\n")},
		"clusters/edge/gitmig/old.yaml":    {Data: []byte("old\n")},
	}
	head, err := Seed(dir, "main", files, "gitmig", "gitmig@localhost", epoch)
	if err != nil {
		t.Fatal(err)
	}
	return dir, head
}

func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func clone(t *testing.T, remote string) *Workspace {
	t.Helper()
	ws, err := Clone(context.Background(), Options{Remote: remote, Branch: "main", AuthorName: "gitmig", AuthorEmail: "gitmig@localhost", Now: func() time.Time { return epoch }})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestCommitAndPushWithoutAWorkTree(t *testing.T) {
	remote, head := seeded(t)
	ws := clone(t, remote)
	if ws.Head() != head {
		t.Fatalf("head %s, want %s", ws.Head(), head)
	}
	edits := []tree.Edit{
		{Path: "clusters/edge/kustomization.yaml", Content: []byte("resources: [gitmig/new.yaml]\n")},
		{Path: "clusters/edge/gitmig/new.yaml", Content: []byte("new\n")},
		{Path: "clusters/edge/gitmig/old.yaml", Delete: true},
		{Path: "migrations/m1.yaml", Content: []byte("record\n")},
	}
	sha, err := ws.Commit(ws.Head(), edits, "step 1\n")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ws.PushBranch(ctx, "gitmig/m1/1-deploy", sha); err != nil {
		t.Fatal(err)
	}
	if got := gitCLI(t, remote, "rev-parse", "gitmig/m1/1-deploy"); got != sha {
		t.Fatalf("remote branch at %s, want %s", got, sha)
	}
	if got := gitCLI(t, remote, "ls-tree", "-r", "--name-only", sha); got != "clusters/edge/gitmig/new.yaml\nclusters/edge/kustomization.yaml\ngitmig.yaml\nmigrations/m1.yaml" {
		t.Errorf("tree:\n%s", got)
	}
	if got := gitCLI(t, remote, "show", sha+":clusters/edge/kustomization.yaml"); got != "resources: [gitmig/new.yaml]" {
		t.Errorf("kustomization: %q", got)
	}
	gitCLI(t, remote, "fsck", "--strict")

	branches, err := ws.RemoteBranches(ctx, "gitmig/")
	if err != nil || branches["gitmig/m1/1-deploy"] != sha || len(branches) != 1 {
		t.Fatalf("RemoteBranches = %v, %v", branches, err)
	}
	// Emptying a folder removes it, as git does not keep empty trees.
	sha2, err := ws.Commit(sha, []tree.Edit{{Path: "migrations/m1.yaml", Delete: true}}, "drop\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.PushBranch(ctx, "gitmig/m1/1-deploy", sha2); err != nil {
		t.Fatal(err)
	}
	if got := gitCLI(t, remote, "ls-tree", "--name-only", sha2); got != "clusters\ngitmig.yaml" {
		t.Errorf("top level after delete: %q", got)
	}
}

func TestPushBaseRejectedWhenTheBaseMoved(t *testing.T) {
	remote, _ := seeded(t)
	ctx := context.Background()
	first, second := clone(t, remote), clone(t, remote)
	a, _ := first.Commit(first.Head(), []tree.Edit{{Path: "migrations/a.yaml", Content: []byte("a\n")}}, "a\n")
	if err := first.PushBase(ctx, a); err != nil {
		t.Fatal(err)
	}
	if first.Head() != a {
		t.Errorf("Head after push = %s, want %s", first.Head(), a)
	}
	b, _ := second.Commit(second.Head(), []tree.Edit{{Path: "migrations/b.yaml", Content: []byte("b\n")}}, "b\n")
	if err := second.PushBase(ctx, b); !errors.Is(err, ErrRejected) {
		t.Fatalf("push on a moved base: %v, want ErrRejected", err)
	}
	if err := second.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if second.Head() != a {
		t.Fatalf("after fetch Head = %s, want %s", second.Head(), a)
	}
	b, _ = second.Commit(second.Head(), []tree.Edit{{Path: "migrations/b.yaml", Content: []byte("b\n")}}, "b\n")
	if err := second.PushBase(ctx, b); err != nil {
		t.Fatalf("retry after fetch: %v", err)
	}
	if got := gitCLI(t, remote, "log", "--format=%s", "main"); got != "b\na\nSeed the fleet repository" {
		t.Errorf("log:\n%s", got)
	}
	ok, err := second.IsAncestor(a, b)
	if err != nil || !ok {
		t.Errorf("IsAncestor(a, b) = %v, %v", ok, err)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	const token = "ghs_supersecrettoken"
	_, err := Clone(context.Background(), Options{Remote: "http://127.0.0.1:1/fleet.git", Branch: "main", Token: token})
	if err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("err = %v", err)
	}
}

// A git server that echoes the credentials back, as the basic auth pair git sends,
// never gets them into gitmig's errors.
func TestCloneErrorsCarryNoToken(t *testing.T) {
	const token = "ghs_0123456789abcdefTOKEN"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "refused %s for %s", r.Header.Get("Authorization"), r.URL)
	}))
	t.Cleanup(srv.Close)
	// go-git puts a 401's body in its error.
	for _, remote := range []string{srv.URL + "/fleet.git", strings.Replace(srv.URL, "http://", "http://x-access-token:"+token+"@", 1) + "/fleet.git"} {
		_, err := Clone(context.Background(), Options{Remote: remote, Branch: "main", Token: token})
		if err == nil {
			t.Fatal("clone of a refusing server succeeded")
		}
		b64 := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + token))
		if msg := err.Error(); strings.Contains(msg, token) || strings.Contains(msg, strings.TrimRight(b64, "=")) {
			t.Errorf("the error carries the token: %s", msg)
		}
	}
}

// A remote that accepts the connection and never answers fails the call within
// CallTimeout.
func TestSilentRemoteTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
		}
	}()
	start := time.Now()
	_, err = Clone(context.Background(), Options{Remote: "http://" + l.Addr().String() + "/fleet.git", Branch: "main", CallTimeout: time.Second})
	if err == nil {
		t.Fatal("cloned from a silent server")
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("gave up after %s, want about the CallTimeout of 1s", elapsed)
	}
}
