package reconcile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

// editConfig commits edit's change to the base branch's gitmig.yaml, as a maintainer
// would.
func editConfig(t *testing.T, remote string, edit func(string) string) {
	t.Helper()
	clone := filepath.Join(t.TempDir(), "clone")
	gittest.Run(t, filepath.Dir(remote), "clone", "-q", remote, clone)
	path := filepath.Join(clone, "gitmig.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(edit(string(data))), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, clone, "commit", "-qam", "gitmig.yaml: merge every step, hold none")
	gittest.Run(t, clone, "push", "-q", "origin", "HEAD:main")
}

// A follow returns as soon as every migration waits for a review; with the later
// steps auto-merged, the follow after the review of step 1 moves the service to its
// cleanup: each pass that merges a step is followed at once by the pass that checks
// its gate, and the follow returns when nothing is pending.
func TestFollowFinishesAnAutoMergedMigrationInOneRun(t *testing.T) {
	repo, remote, metrics, at := fleet(t)
	editConfig(t, remote, func(s string) string {
		s = strings.Replace(s, "  drain: 5m\n", "  drain: 0s\n  routeSettle: 0s\n", 1)
		return strings.Replace(s, "\ngitops:\n", "\ngitops:\n  autoMerge: [route, flip, cleanup]\n", 1)
	})
	var out, errOut bytes.Buffer
	follow := func() {
		t.Helper()
		out.Reset()
		err := Run(context.Background(), &Options{
			Globals: &cmdutil.Globals{Repo: repo},
			Streams: cmdutil.Streams{Out: &out, Err: &errOut},
			Metrics: cmdutil.MetricsFlags{Metrics: metrics},
			Follow:  true,
			Timeout: 5 * time.Minute,
			Env:     func(string) string { return "" },
			Now:     func() time.Time { return at },
		})
		if err != nil {
			t.Fatalf("follow: %v\n%s\n%s", err, out.String(), errOut.String())
		}
	}
	follow()
	if n := strings.Count(errOut.String(), "msg=pass "); n != 1 || !strings.Contains(out.String(), "review and merge of pull request #1") {
		t.Fatalf("%d passes, want one that opens step 1 and waits for its review:\n%s\n%s", n, out.String(), errOut.String())
	}
	f, err := local.New(local.Options{Remote: remote, Base: "main", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Merge(context.Background(), 1, ""); err != nil {
		t.Fatal(err)
	}
	follow()
	prs, err := f.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	merged := map[string]int{}
	for _, pr := range prs {
		if pr.State != forge.StateMerged {
			t.Errorf("pull request #%d %q is %s, not merged", pr.Number, pr.Title, pr.State)
		}
		merged[pr.Head]++
	}
	if len(prs) != 4 || len(merged) != 4 {
		t.Errorf("%d pull requests on %d branches, want the four steps once each: %+v", len(prs), len(merged), prs)
	}
	if !strings.Contains(out.String(), "Completed") {
		t.Errorf("the last pass does not show the migration completed:\n%s", out.String())
	}
	if strings.Contains(errOut.String(), "level=ERROR") {
		t.Errorf("a pass failed:\n%s", errOut.String())
	}
}
