package pr

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
)

// gate reports gitmig's gate and a second context on pull request n's head, writes
// its description and comments on it, as a pass and a reviewer would.
func gate(t *testing.T, remote string, n int, state forge.StatusState, reason, comment string) {
	t.Helper()
	ctx := context.Background()
	f, err := local.New(local.Options{Remote: remote, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	db, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head := db.Pulls[n-1].HeadSHA
	for _, st := range []forge.Status{
		{State: forge.StatusPending, Context: gitops.GateContext, Description: "waiting"},
		{State: state, Context: gitops.GateContext, Description: reason},
		{State: forge.StatusSuccess, Context: "ci/lint"},
	} {
		if err := f.SetStatus(ctx, head, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.UpdateBody(ctx, n, "## Step 1 of 4\n\nTo roll back: gitmig abort ID"); err != nil {
		t.Fatal(err)
	}
	if err := f.Comment(ctx, n, comment); err != nil {
		t.Fatal(err)
	}
}

func TestViewShowsStatusesCommentsAndDiff(t *testing.T) {
	repo, remote := setup(t, "local")
	openPRs(t, remote)
	gate(t, remote, 1, forge.StatusFailure, "Deployment orc8r on cloud is not available\x1b[2J", "cloud is\nfull")

	out, err := gitmigPR(t, repo, "view", "1")
	if err != nil {
		t.Fatal(err)
	}
	head := gitOut(t, remote, "rev-parse", "gitmig/orc8r-edge-to-cloud/1-deploy")
	for _, want := range []string{
		"#1 gitmig: move orc8r edge→cloud [1-deploy]\n",
		"state:   open\n",
		"branch:  gitmig/orc8r-edge-to-cloud/1-deploy → main at " + head + "\n",
		// The latest status of each context, the gate's first.
		"checks:  success ci/lint: \n         failure gitmig/gate: Deployment orc8r on cloud is not available\n",
		"\n## Step 1 of 4\n\nTo roll back: gitmig abort ID\n\n1 comments\n",
		"  cloud is\n  full\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view 1 lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "diff --git") || strings.Contains(out, "waiting") {
		t.Errorf("view 1 without --diff:\n%q", out)
	}

	// An open pull request's diff is its head against where it left the base.
	out, err = gitmigPR(t, repo, "view", "1", "--diff")
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := "diff --git a/clusters/cloud/1-deploy.yaml b/clusters/cloud/1-deploy.yaml\n"
	if !strings.Contains(out, wantDiff) || !strings.Contains(out, "+step: 1-deploy\n") || strings.Contains(out, "2-route.yaml") {
		t.Errorf("view 1 --diff:\n%s", out)
	}

	// Once #1 is merged, #2's diff still shows only #2's change; #1's shows what its
	// merge commit changed.
	if _, err := gitmigPR(t, repo, "merge", "1"); err != nil {
		t.Fatal(err)
	}
	out, err = gitmigPR(t, repo, "view", "2", "--diff")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "+step: 2-route\n") || strings.Contains(out, "1-deploy.yaml") || !strings.Contains(out, "checks:  none\n") {
		t.Errorf("view 2 --diff after #1 merged:\n%s", out)
	}
	out, err = gitmigPR(t, repo, "view", "1", "--diff", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v View
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("view -o json: %v\n%s", err, out)
	}
	mainTip := gitOut(t, remote, "rev-parse", "main")
	if v.State != forge.StateMerged || v.MergeCommit != mainTip || len(v.Comments) != 1 || v.Comments[0].Body != "cloud is\nfull" {
		t.Errorf("view 1 -o json: %+v", v)
	}
	if len(v.Statuses) != 2 || v.Statuses[1].Context != gitops.GateContext || v.Statuses[1].State != forge.StatusFailure {
		t.Errorf("view 1 -o json statuses: %+v", v.Statuses)
	}
	if !strings.HasPrefix(v.Diff, wantDiff) || strings.Contains(v.Diff, "2-route") {
		t.Errorf("merged #1's diff:\n%s", v.Diff)
	}

	// pr list shows the gate's state, "-" where the gate never reported.
	out, err = gitmigPR(t, repo, "list")
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out, "\n"); len(lines) < 3 || !strings.Contains(lines[0], "CHECKS") ||
		strings.Fields(lines[1])[2] != "failure" || strings.Fields(lines[2])[2] != "-" {
		t.Errorf("list:\n%s", out)
	}
}

func TestViewErrors(t *testing.T) {
	repo, remote := setup(t, "local")
	openPRs(t, remote)
	if _, err := gitmigPR(t, repo, "view", "9"); !errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "#9") {
		t.Errorf("view 9: %v, want not found naming #9", err)
	}
	if _, err := gitmigPR(t, repo, "view", "1", "-o", "table"); err == nil {
		t.Error("view -o table succeeded")
	}
	if _, err := gitmigPR(t, repo, "view"); err == nil {
		t.Error("view without a number succeeded")
	}
}
