package reconcile

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
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/report"
)

// fleet makes a work tree of the example fleet whose gitmig.yaml uses the local forge
// on a bare remote beside it, with engine none (a merged step counts as applied), and
// seeds the remote with that same tree, as a checkout in a GitHub Actions job would
// be. It returns the work tree, the remote, and the bundled metrics snapshot (edge
// overloaded) written to a file, with its evaluation time.
func fleet(t *testing.T) (repo, remote, metricsFile string, at time.Time) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the git CLI is required: go-git runs git-upload-pack and git-receive-pack for local remotes")
	}
	snap, err := metrics.ParseSnapshot(gitmig.ExampleMetrics)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	repo, remote = filepath.Join(root, "work"), filepath.Join(root, "fleet.git")
	if err := example.WriteTree(repo, "../fleet.git"); err != nil {
		t.Fatal(err)
	}
	if _, err := example.Seed(remote, "../fleet.git", snap.EvaluatedAt); err != nil {
		t.Fatal(err)
	}
	metricsFile = filepath.Join(root, "metrics.yaml")
	if err := os.WriteFile(metricsFile, gitmig.ExampleMetrics, 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, remote, metricsFile, snap.EvaluatedAt
}

// reconcileOnce runs `gitmig reconcile --once --metrics FILE` through Run, reading the
// process environment as the command does.
func reconcileOnce(t *testing.T, repo, metrics string, now time.Time, dryRun bool) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	opts := &Options{
		Globals: &cmdutil.Globals{Repo: repo},
		Streams: cmdutil.Streams{Out: &out, Err: &errOut},
		Metrics: cmdutil.MetricsFlags{Metrics: metrics},
		Once:    true,
		DryRun:  dryRun,
		Env:     os.Getenv,
		Now:     func() time.Time { return now },
	}
	err := Run(context.Background(), opts)
	return out.String() + errOut.String(), err
}

func TestReconcileAppendsTheStepSummary(t *testing.T) {
	repo, remote, metrics, at := fleet(t)
	summary := filepath.Join(t.TempDir(), "step_summary.md")
	// An earlier step of the job wrote here first; gitmig must append, not replace.
	const earlier = "## Checkout\n\ndone\n\n"
	if err := os.WriteFile(summary, []byte(earlier), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(StepSummaryEnv, summary)

	// Pass 1: edge is overloaded, the plan moves orc8r to cloud and step 1's PR opens.
	if out, err := reconcileOnce(t, repo, metrics, at, false); err != nil {
		t.Fatalf("pass 1: %v\n%s", err, out)
	}
	first := readFile(t, summary)
	if !strings.HasPrefix(first, earlier) {
		t.Fatalf("the summary replaced what an earlier step wrote:\n%s", first)
	}
	pass1 := first[len(earlier):]
	for _, want := range []string{
		"## gitmig reconcile at `",
		"### Clusters\n\nMetrics evaluated at 2026-05-04 09:00:00Z.\n\n| Cluster | State | Sustained cpu | Sustained memory |\n|---|---|---|---|\n",
		"| edge | Overloaded | 86.2% (6.90 / 8 cores) | 46.9% (7.50 / 16 Gi) |\n",
		"| fog | OK | 8.8% (0.35 / 4 cores) |",
		"### Decisions\n\n| Service | From | To | Reason | Candidates |\n|---|---|---|---|---|\n| orc8r | edge | cloud | ",
		"<details><summary>1 service(s) stay where they are</summary>",
		"| agw | ",
		"### Migrations\n\n| Migration | Service | Move | Step | Status | Gate | Waiting for | Pull requests |\n|---|---|---|---|---|---|---|---|\n| orc8r-edge-to-cloud-",
		"| orc8r | edge → cloud | 0/4 | ",
		"### Actions\n\n| Action | Migration | Step | Detail |\n|---|---|---|---|\n",
		"| create-pr | orc8r-edge-to-cloud-",
	} {
		if !strings.Contains(pass1, want) {
			t.Errorf("pass 1's summary lacks %q:\n%s", want, pass1)
		}
	}
	if strings.Contains(pass1, "would ") || strings.Contains(pass1, "(dry run)") {
		t.Errorf("a real pass is summarised as a dry run:\n%s", pass1)
	}

	// A reviewer merges step 1. Pass 2 sees its gate pass and opens step 2's PR; its
	// summary is appended below pass 1's.
	f, err := local.New(local.Options{Remote: remote, Base: "main", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Merge(context.Background(), 1, ""); err != nil {
		t.Fatal(err)
	}
	if out, err := reconcileOnce(t, repo, metrics, at.Add(time.Minute), false); err != nil {
		t.Fatalf("pass 2: %v\n%s", err, out)
	}
	second := readFile(t, summary)
	if !strings.HasPrefix(second, first) {
		t.Fatalf("pass 2 rewrote pass 1's summary")
	}
	pass2 := second[len(first):]
	for _, want := range []string{
		"| 1/4 | InProgress | step 1: " + string(gate.Pass),
		"#1 merged",
		"#2 open",
		"| create-pr | orc8r-edge-to-cloud-",
	} {
		if !strings.Contains(pass2, want) {
			t.Errorf("pass 2's summary lacks %q:\n%s", want, pass2)
		}
	}
}

func TestReconcileDryRunSummarySaysWould(t *testing.T) {
	repo, _, metrics, at := fleet(t)
	summary := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv(StepSummaryEnv, summary)
	if out, err := reconcileOnce(t, repo, metrics, at, true); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := readFile(t, summary)
	for _, want := range []string{"(dry run)", "| would create-pr | orc8r-edge-to-cloud-"} {
		if !strings.Contains(got, want) {
			t.Errorf("dry-run summary lacks %q:\n%s", want, got)
		}
	}
}

func TestNoStepSummaryOutsideActions(t *testing.T) {
	for name, env := range map[string]gitops.Env{"unset": func(string) string { return "" }, "no env": nil} {
		if err := appendSummary(env, &report.Report{}, false, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReconcileFailsWhenTheSummaryCannotBeWritten(t *testing.T) {
	repo, _, metrics, at := fleet(t)
	t.Setenv(StepSummaryEnv, filepath.Join(t.TempDir(), "missing-dir", "summary.md"))
	_, err := reconcileOnce(t, repo, metrics, at, true)
	if err == nil || !strings.Contains(err.Error(), "step summary") {
		t.Fatalf("want an error about the step summary, got %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
