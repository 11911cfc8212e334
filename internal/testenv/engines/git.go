package engines

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
)

// GitServer serves one bare repository over git's smart HTTP protocol, as a forge's
// git endpoint would: gitmig clones and pushes through it, Argo CD's repo-server and
// Flux's source-controller fetch through it.
type GitServer struct {
	// URL is the repository's clone URL, http://127.0.0.1:<port>/<name>.git.
	URL string
	// Dir is the bare repository on disk.
	Dir string

	mu     sync.Mutex
	onPush []func()
}

// NewGitServer serves the bare repository name.git that seed creates in the folder
// it is given, until the test ends. seed also gets the repository's URL, which the
// repository's own gitmig.yaml names.
func NewGitServer(t testing.TB, name string, seed func(dir, url string) error) *GitServer {
	t.Helper()
	root := t.TempDir()
	g := &GitServer{Dir: filepath.Join(root, name+".git")}
	srv := gittestserver.NewGitServer(root)
	srv.AddHTTPMiddlewares(g.notify)
	if err := srv.StartHTTP(); err != nil {
		t.Fatalf("starting the git server: %v", err)
	}
	t.Cleanup(srv.StopHTTP)
	g.URL = srv.HTTPAddress() + "/" + name + ".git"
	if err := seed(g.Dir, g.URL); err != nil {
		t.Fatalf("seeding %s: %v", g.Dir, err)
	}
	return g
}

// OnPush registers f to run after every push the server accepted, as a forge's push
// webhook would fire.
func (g *GitServer) OnPush(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.onPush = append(g.onPush, f)
}

// notify calls the OnPush functions once a receive-pack request has been answered.
func (g *GitServer) notify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			return
		}
		g.mu.Lock()
		hooks := append([]func(){}, g.onPush...)
		g.mu.Unlock()
		for _, f := range hooks {
			go f()
		}
	})
}

// QuietGitLog is w without the git server's line per HTTP request (the git test server
// logs through the standard logger), which would bury a failing test's messages; its errors still
// show.
func QuietGitLog(w io.Writer) io.Writer { return dropRequests{w} }

type dropRequests struct{ w io.Writer }

func (d dropRequests) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(" request: GET ")) || bytes.Contains(p, []byte(" request: POST ")) {
		return len(p), nil
	}
	return d.w.Write(p)
}
