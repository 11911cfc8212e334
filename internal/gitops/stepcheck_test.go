package gitops

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// stepBranch clones the fleet's remote and fetches the step branch of the open pull
// request, as the reconciler would.
func (f *testFleet) stepBranch() (*workspace.Workspace, forge.PullRequest, string) {
	f.t.Helper()
	prs := f.prs()
	pr := prs[len(prs)-1]
	if pr.State != forge.StateOpen {
		f.t.Fatalf("no open pull request: %+v", pr)
	}
	ws, err := workspace.Clone(context.Background(), workspace.Options{Remote: f.remote, Branch: "main", Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	head, err := ws.FetchBranch(context.Background(), pr.Head)
	if err != nil {
		f.t.Fatal(err)
	}
	return ws, pr, head
}

func (f *testFleet) checkStep(ws *workspace.Workspace, branch, head string) *StepCheck {
	f.t.Helper()
	check, err := CheckStepBranch(context.Background(), ws, nil, branch, head, f.forge.HeadURL)
	if err != nil {
		f.t.Fatalf("checking %s: %v", branch, err)
	}
	return check
}

func TestCheckStepBranchAcceptsEveryStepGitmigOpens(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	for n := 1; n <= 4; n++ {
		if n == 3 {
			// The route holds the flip for policy.routeSettle.
			f.clock.Add(f.cfg.Policy.RouteSettle.Duration)
		}
		if n == 4 {
			// The flip holds cleanup for policy.drain.
			f.clock.Add(f.cfg.Policy.Drain.Duration)
		}
		if _, err := r.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
		ws, pr, head := f.stepBranch()
		check := f.checkStep(ws, pr.Head, head)
		if len(check.Problems) != 0 || check.Skipped != "" || check.Step != step.Step(n).String() || check.Base != ws.Head() {
			t.Errorf("step %d (%s): %+v, want no problems on base %s", n, pr.Head, check, ws.Head())
		}
		f.mergeOpen()
	}
}

func TestCheckStepBranchNamesWhatDiffers(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	// Step 2's record carries step 1's pull request, which only the forge knew.
	for pass := range 2 {
		if _, err := r.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
		if pass == 0 {
			f.mergeOpen()
		}
	}
	ws, pr, head := f.stepBranch()
	if !strings.HasSuffix(pr.Head, "/2-route") {
		t.Fatalf("open pull request %s, want step 2's", pr.Head)
	}
	base := ws.Head()
	changes, err := ws.Changes(base, head)
	if err != nil {
		t.Fatal(err)
	}
	// stepEdits is the step's commit as edits on base, with the file at path replaced.
	stepEdits := func(path, content string) []tree.Edit {
		var edits []tree.Edit
		for _, c := range changes {
			data, _, err := ws.ReadFile(head, c.Path)
			if err != nil {
				t.Fatal(err)
			}
			edits = append(edits, tree.Edit{Path: c.Path, Content: data})
		}
		return append(edits, tree.Edit{Path: path, Content: []byte(content)})
	}
	commit := func(parent string, edits []tree.Edit) string {
		sha, err := ws.Commit(parent, edits, "someone's change\n")
		if err != nil {
			t.Fatal(err)
		}
		return sha
	}
	route := "clusters/cloud/gitmig/ingressroute-orc8r.yaml"
	if !slices.ContainsFunc(changes, func(c workspace.FileChange) bool { return c.Path == route }) {
		t.Fatalf("step 2 does not write %s: %v", route, changes)
	}
	recordPath := record.Path(strings.Split(pr.Head, "/")[1])
	rec, err := readRecord(ws, head, recordPath)
	if err != nil || rec == nil {
		t.Fatalf("no record on the branch: %v", err)
	}
	rec.SetPullRequest(record.PullRequestRef{Step: 2, Number: 99, URL: "https://example.com/pull/99"})
	laterPR, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, branch, head string
		want               []string
	}{
		{
			name: "a commit on top", branch: pr.Head,
			head: commit(head, []tree.Edit{{Path: "clusters/cloud/extra.yaml", Content: []byte("kind: ConfigMap\n")}}),
			want: []string{`2 commits on top of main at ` + short(base), `"someone's change"`, "clusters/cloud/extra.yaml: on the branch, but not in what gitmig writes"},
		},
		{
			name: "an amended file", branch: pr.Head,
			head: commit(base, stepEdits(route, "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\n")),
			want: []string{route + ": differs from what gitmig writes for step 2-route"},
		},
		{
			name: "a removed file", branch: pr.Head,
			head: commit(base, append(stepEdits(route, ""), tree.Edit{Path: route, Delete: true})),
			want: []string{route + ": missing from the branch"},
		},
		{
			name: "a record claiming a later pull request", branch: pr.Head,
			head: commit(base, stepEdits(recordPath, string(laterPR))),
			want: []string{recordPath + ": differs from what gitmig writes"},
		},
		{
			name: "the wrong step for the base", branch: strings.Replace(pr.Head, "/2-route", "/3-flip", 1), head: head,
			want: []string{"says step 1 is merged: the next step is 2, not 3"},
		},
		{
			name: "a merged branch", branch: pr.Head, head: base,
			want: []string{"no commit on top of main"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := f.checkStep(ws, tc.branch, tc.head)
			all := strings.Join(check.Problems, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems lack %q:\n%s", w, all)
				}
			}
		})
	}

	check := f.checkStep(ws, strings.Replace(pr.Head, "/2-route", "/undo-1-deploy", 1), head)
	if check.Skipped == "" || len(check.Problems) != 0 {
		t.Errorf("a rollback branch: %+v, want it skipped", check)
	}
	for _, b := range []string{"feature/x", strings.Replace(pr.Head, "/2-route", "/2-deploy", 1)} {
		if _, err := CheckStepBranch(context.Background(), ws, nil, b, head, f.forge.HeadURL); err == nil {
			t.Errorf("%s, not a gitmig step branch, was checked", b)
		}
	}
}
