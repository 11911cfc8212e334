package abort

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/step"
)

// fleet is the example fleet's work tree with the local forge on a bare remote beside
// it, where a reconcile pass has started orc8r's move to cloud and step 1 is merged,
// so that step 2's pull request is open. It returns the work tree, the forge, the
// migration's id and the time.
func fleet(t *testing.T) (repo string, f *local.Forge, id string, at time.Time) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is required: go-git runs git-upload-pack and git-receive-pack for local remotes")
	}
	snap, err := metrics.ParseSnapshot(gitmig.ExampleMetrics)
	if err != nil {
		t.Fatal(err)
	}
	at = snap.EvaluatedAt
	root := t.TempDir()
	repo, remote := filepath.Join(root, "work"), filepath.Join(root, "fleet.git")
	if err := example.WriteTree(repo, "../fleet.git"); err != nil {
		t.Fatal(err)
	}
	if _, err := example.Seed(remote, "../fleet.git", at); err != nil {
		t.Fatal(err)
	}
	metricsFile := filepath.Join(root, "metrics.yaml")
	if err := os.WriteFile(metricsFile, gitmig.ExampleMetrics, 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err = local.New(local.Options{Remote: remote, Base: "main", Now: func() time.Time { return at }}); err != nil {
		t.Fatal(err)
	}
	pass := func(now time.Time) {
		var out bytes.Buffer
		err := reconcile.Run(context.Background(), &reconcile.Options{
			Globals: &cmdutil.Globals{Repo: repo},
			Streams: cmdutil.Streams{Out: &out, Err: &out},
			Metrics: cmdutil.MetricsFlags{Metrics: metricsFile},
			Once:    true,
			Env:     func(string) string { return "" },
			Now:     func() time.Time { return now },
		})
		if err != nil {
			t.Fatalf("reconcile: %v\n%s", err, out.String())
		}
	}
	pass(at)
	if _, err := f.Merge(context.Background(), 1, ""); err != nil {
		t.Fatal(err)
	}
	pass(at.Add(time.Minute))
	prs := pulls(t, f)
	if len(prs) != 2 || prs[1].State != forge.StateOpen {
		t.Fatalf("before the abort: %+v", prs)
	}
	b, ok := step.ParseBranch(prs[1].Head)
	if !ok {
		t.Fatalf("step 2's head %q is not a step branch", prs[1].Head)
	}
	return repo, f, b.ID, at.Add(2 * time.Minute)
}

func pulls(t *testing.T, f *local.Forge) []forge.PullRequest {
	t.Helper()
	prs, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return prs
}

// abort runs `gitmig abort` through Run, with env as the process environment.
func abort(repo string, env map[string]string, now time.Time, id, by, reason string) (string, error) {
	var out bytes.Buffer
	err := Run(context.Background(), &Options{
		Globals: &cmdutil.Globals{Repo: repo},
		Streams: cmdutil.Streams{Out: &out, Err: &out},
		ID:      id,
		By:      by,
		Reason:  reason,
		Env:     func(name string) string { return env[name] },
		Now:     func() time.Time { return now },
	})
	return out.String(), err
}

func TestAbortClosesTheStepAndOpensTheRollback(t *testing.T) {
	repo, f, id, now := fleet(t)
	out, err := abort(repo, map[string]string{"GITHUB_ACTOR": "octo-alice"}, now, id, "", "p99 doubled in cloud")
	if err != nil {
		t.Fatalf("abort: %v\n%s", err, out)
	}
	prs := pulls(t, f)
	if len(prs) != 3 || prs[1].State != forge.StateClosed || prs[2].State != forge.StateOpen || !strings.HasSuffix(prs[2].Head, "/undo-1-deploy") {
		t.Fatalf("after the abort: %+v", prs)
	}
	why := "aborted by hand by octo-alice (gitmig abort): p99 doubled in cloud"
	if !strings.Contains(prs[2].Body, "Why: "+why) {
		t.Errorf("the rollback pull request does not say why:\n%s", prs[2].Body)
	}
	for _, want := range []string{id, "RollingBack", "#3"} {
		if !strings.Contains(out, want) {
			t.Errorf("abort's output lacks %q:\n%s", want, out)
		}
	}

	// The migration is rolling back now: merging the rollback and a second abort end it.
	if _, err := f.Merge(context.Background(), 3, ""); err != nil {
		t.Fatal(err)
	}
	if out, err := abort(repo, map[string]string{"USER": "bob"}, now.Add(time.Minute), id, "", ""); err != nil || !strings.Contains(out, "RolledBack") {
		t.Fatalf("abort after the rollback merged: %v\n%s", err, out)
	}
	// An ended migration cannot be aborted; the error says how it ended.
	if _, err := abort(repo, map[string]string{"USER": "bob"}, now.Add(2*time.Minute), id, "", ""); err == nil || !strings.Contains(err.Error(), "already ended RolledBack") {
		t.Errorf("abort of an ended migration: %v", err)
	}
}

func TestAbortRefusesBadInput(t *testing.T) {
	repo, f, id, now := fleet(t)
	for _, tc := range []struct {
		name, id, by, reason string
		env                  map[string]string
		want                 string
	}{
		{"id with a path", "../x", "alice", "", nil, "is not a migration id"},
		{"nobody", id, "", "", nil, "say who aborts with --by"},
		{"two-line reason", id, "alice", "one\ntwo", nil, "--reason must be one line"},
		{"unknown id", "orc8r-edge-to-fog-20260504-0900", "alice", "", nil, "no migration \"orc8r-edge-to-fog-20260504-0900\": main has no record migrations/orc8r-edge-to-fog-20260504-0900.yaml (in progress: " + id},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := abort(repo, tc.env, now, tc.id, tc.by, tc.reason); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("abort: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	if prs := pulls(t, f); len(prs) != 2 || prs[1].State != forge.StateOpen {
		t.Errorf("a refused abort changed the pull requests: %+v", prs)
	}
}
