package local

import (
	"context"
	"errors"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// tokenUser is the user name HTTPS remotes take a token with.
const tokenUser = "x-access-token"

// smartHTTP serves the fixture's remote with git's own smart-HTTP backend, pushing
// allowed only with the token.
func smartHTTP(t *testing.T, fx *fixture, token string) *httptest.Server {
	t.Helper()
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != tokenUser || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="fleet"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h := &cgi.Handler{Path: backend, Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(fx.remote),
			"GIT_HTTP_EXPORT_ALL=1",
			// git-http-backend accepts pushes from authenticated users only.
			"REMOTE_USER=" + user,
		}}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestOverSmartHTTPWithAToken(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.commit(deployBranch, "main", map[string]string{"a.yaml": "a\n"}, "step 1")
	srv := smartHTTP(t, fx, "s3cret")
	url := srv.URL + "/" + filepath.Base(fx.remote)
	now := func() time.Time { return clock }

	anonymous, err := New(Options{Remote: url, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anonymous.List(ctx); !errors.Is(err, transport.ErrAuthenticationRequired) {
		t.Errorf("List without a token: %v, want authentication required", err)
	}

	withToken := strings.Replace(url, "://", "://"+tokenUser+":s3cret@", 1)
	f, err := New(Options{Remote: withToken, Auth: &githttp.BasicAuth{Username: tokenUser, Password: "s3cret"}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	pr, err := f.Create(ctx, forge.NewPullRequest{Title: "over HTTP", Head: deployBranch})
	if err != nil {
		t.Fatal(err)
	}
	if want := url + "#pull/1"; pr.URL != want || strings.Contains(pr.URL, "s3cret") {
		t.Errorf("URL = %q, want %q, without the token", pr.URL, want)
	}
	merged, err := f.Merge(ctx, pr.Number, "")
	if err != nil {
		t.Fatal(err)
	}
	if tip := fx.git("rev-parse", "main"); merged.MergeCommit != tip {
		t.Errorf("merge commit %s, main at %s", merged.MergeCommit, tip)
	}
	if stored := fx.git("show", string(ForgeRef)+":pulls.json"); strings.Contains(stored, "s3cret") {
		t.Errorf("pulls.json holds the token:\n%s", stored)
	}
	fx.fsck()
}
