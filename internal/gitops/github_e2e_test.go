package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// fakeGitHub answers the few REST calls gitmig makes with GitHub's documented JSON,
// keeps the pull requests they create, and records every call. Any other call fails
// the test.
type fakeGitHub struct {
	t *testing.T
	// remote is the git repository, for the head SHAs GitHub reports.
	remote string
	mu     sync.Mutex
	calls  []string
	pulls  []map[string]any
	// rateLimited makes the next list answer 403 with the rate limit exhausted.
	rateLimited bool
}

var (
	labelsPath   = regexp.MustCompile(`^/repos/example/fleet/issues/(\d+)/labels$`)
	statusesPath = regexp.MustCompile(`^/repos/example/fleet/statuses/([0-9a-f]{40})$`)
)

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	g.calls = append(g.calls, call)
	if r.Header.Get("Authorization") != "Bearer ghs_test" {
		g.t.Errorf("%s without the token", call)
	}
	var decoded any
	if r.Body != nil {
		_ = json.NewDecoder(r.Body).Decode(&decoded)
	}
	body, _ := decoded.(map[string]any)
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case call == "GET /repos/example/fleet/pulls" && g.rateLimited:
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", "1778000000")
		reply(http.StatusForbidden, map[string]any{"message": "API rate limit exceeded for installation ID 1.", "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"})
	case call == "GET /repos/example/fleet/pulls":
		newestFirst := make([]map[string]any, 0, len(g.pulls))
		for i := len(g.pulls) - 1; i >= 0; i-- {
			newestFirst = append(newestFirst, g.pulls[i])
		}
		reply(http.StatusOK, newestFirst)
	case call == "POST /repos/example/fleet/pulls":
		n := len(g.pulls) + 1
		head := body["head"].(string)
		pr := map[string]any{
			"number": n, "state": "open", "title": body["title"], "body": body["body"],
			"html_url": fmt.Sprintf("https://github.com/example/fleet/pull/%d", n),
			"head":     map[string]any{"ref": head, "sha": g.branchSHA(head), "repo": map[string]any{"full_name": "example/fleet"}},
			"base":     map[string]any{"ref": body["base"]},
			"labels":   []any{}, "created_at": "2026-05-04T09:00:00Z", "merged_at": nil, "merge_commit_sha": nil,
		}
		g.pulls = append(g.pulls, pr)
		reply(http.StatusCreated, pr)
	case labelsPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		n, _ := strconv.Atoi(labelsPath.FindStringSubmatch(r.URL.Path)[1])
		// GitHub takes the labels as a bare array or as {"labels": [...]}.
		names, ok := decoded.([]any)
		if !ok {
			names, _ = body["labels"].([]any)
		}
		var labels []any
		for _, l := range names {
			labels = append(labels, map[string]any{"name": l})
		}
		g.pulls[n-1]["labels"] = labels
		reply(http.StatusOK, labels)
	case statusesPath.MatchString(r.URL.Path) && r.Method == http.MethodPost:
		if body["context"] != "gitmig/gate" {
			g.t.Errorf("status context %v", body["context"])
		}
		reply(http.StatusCreated, body)
	default:
		g.t.Errorf("unexpected call %s", call)
		reply(http.StatusNotFound, map[string]any{"message": "Not Found"})
	}
}

func (g *fakeGitHub) branchSHA(branch string) string {
	out, err := exec.Command("git", "-C", g.remote, "rev-parse", "refs/heads/"+branch).Output()
	if err != nil {
		g.t.Errorf("rev-parse %s: %v", branch, err)
	}
	return strings.TrimSpace(string(out))
}

func (g *fakeGitHub) takeCalls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	calls := g.calls
	g.calls = nil
	return calls
}

// merge merges a pull request's branch into main as GitHub's merge button does, and
// marks it merged.
func (g *fakeGitHub) merge(f *testFleet, n int) {
	g.mu.Lock()
	pr := g.pulls[n-1]
	g.mu.Unlock()
	head := pr["head"].(map[string]any)["ref"].(string)
	work := filepath.Join(f.t.TempDir(), "work")
	for _, args := range [][]string{
		{"clone", "-q", f.remote, work},
		{"-C", work, "-c", "user.name=Reviewer", "-c", "user.email=reviewer@example.com", "merge", "-q", "--no-ff", "-m", fmt.Sprintf("Merge pull request #%d from example/%s", n, head), "origin/" + head},
		{"-C", work, "push", "-q", "origin", "HEAD:main"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			f.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	sha, _ := exec.Command("git", "-C", work, "rev-parse", "HEAD").Output()
	g.mu.Lock()
	defer g.mu.Unlock()
	pr["state"], pr["merged_at"], pr["closed_at"] = "closed", f.clock.Now().UTC().Format(time.RFC3339), f.clock.Now().UTC().Format(time.RFC3339)
	pr["merge_commit_sha"] = strings.TrimSpace(string(sha))
}

func TestReconcileAgainstGitHubsAPI(t *testing.T) {
	f := newFleet(t)
	gh := &fakeGitHub{t: t, remote: f.remote}
	srv := httptest.NewServer(gh)
	defer srv.Close()
	r := f.reconciler()
	f.cfg.GitOps.Forge = config.ForgeGitHub
	f.cfg.GitOps.GitHub = &config.GitHub{Owner: "example", Repo: "fleet", TokenEnv: "GITMIG_GITHUB_TOKEN", APIURL: srv.URL + "/"}
	setup, err := NewSetup(f.cfg, "", func(string) string { return "ghs_test" })
	if err != nil {
		t.Fatal(err)
	}
	if r.Forge, err = setup.Forge(f.cfg, f.clock.Now); err != nil {
		t.Fatal(err)
	}

	// A rate-limited list stops the pass before it changes anything.
	gh.rateLimited = true
	_, err = r.Pass(context.Background())
	var limited *forge.RateLimitError
	if !errors.As(err, &limited) || !strings.Contains(err.Error(), "retry after 2026-05-05T16:53:20Z") {
		t.Fatalf("rate-limited pass: %v", err)
	}
	if branches := f.git("for-each-ref", "refs/heads/gitmig/"); branches != "" || f.git("rev-parse", "main") != f.seed {
		t.Fatalf("a rate-limited pass left state behind: branches %q, main at %s", branches, f.git("rev-parse", "main"))
	}
	gh.rateLimited = false
	gh.takeCalls()
	mustPass(t, r)
	want := []string{"GET /repos/example/fleet/pulls", "POST /repos/example/fleet/pulls", "POST /repos/example/fleet/issues/1/labels"}
	if got := gh.takeCalls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first pass calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mustPass(t, r)
	if got := gh.takeCalls(); len(got) != 1 || got[0] != "GET /repos/example/fleet/pulls" {
		t.Fatalf("a pass without a merge made %v", got)
	}
	gh.merge(f, 1)
	mustPass(t, r)
	headSHA := gh.pulls[0]["head"].(map[string]any)["sha"].(string)
	want = []string{
		"GET /repos/example/fleet/pulls",
		"POST /repos/example/fleet/statuses/" + headSHA,
		"POST /repos/example/fleet/pulls",
		"POST /repos/example/fleet/issues/2/labels",
	}
	if got := gh.takeCalls(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("pass after the merge made:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if title := gh.pulls[1]["title"]; title != "gitmig: move orc8r edge→cloud [2/4 route]" {
		t.Errorf("second pull request %q", title)
	}
	if body := gh.pulls[1]["body"].(string); !strings.Contains(body, "[#1](https://github.com/example/fleet/pull/1) merged") || !strings.Contains(body, "```mermaid") {
		t.Errorf("second pull request's body lacks the checklist or the diagram:\n%s", body)
	}
}
