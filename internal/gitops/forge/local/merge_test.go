package local

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// openPR pushes a head branch changing files off main and opens its pull request.
func openPR(t *testing.T, fx *fixture, f *Forge, head string, files map[string]string) (forge.PullRequest, plumbing.Hash) {
	t.Helper()
	h := fx.commit(head, "main", files, "change of "+head)
	pr, err := f.Create(context.Background(), forge.NewPullRequest{Title: "gitmig: " + head, Head: head, Labels: []string{forge.Label}})
	if err != nil {
		t.Fatal(err)
	}
	return pr, h
}

func TestMergeWhenBaseDidNotMove(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	oldMain := fx.git("rev-parse", "main")
	pr, head := openPR(t, fx, f, deployBranch, map[string]string{"clusters/cloud/gitmig/ns.yaml": "kind: Namespace\n", "base/orc8r/deployment.yaml": ""})

	merged, err := f.Merge(ctx, pr.Number, "")
	if err != nil {
		t.Fatal(err)
	}
	tip := fx.git("rev-parse", "main")
	if merged.State != forge.StateMerged || merged.MergeCommit != tip || !merged.MergedAt.Equal(clock) || merged.HeadSHA != head.String() {
		t.Errorf("Merge returned %+v; main is %s", merged, tip)
	}
	if parents := fx.git("log", "-1", "--format=%P", "main"); parents != oldMain+" "+head.String() {
		t.Errorf("merge commit parents = %q, want the old main and the head", parents)
	}
	if got, want := fx.git("rev-parse", "main^{tree}"), fx.git("rev-parse", head.String()+"^{tree}"); got != want {
		t.Errorf("merge tree %s, want the head's %s", got, want)
	}
	if msg := fx.git("log", "-1", "--format=%B", "main"); msg != "Merge pull request #1 from "+deployBranch+"\n\ngitmig: "+deployBranch {
		t.Errorf("merge message = %q", msg)
	}
	// Recorded for the next run, and merging again returns the same.
	list, err := fx.forge().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].State != forge.StateMerged || list[0].MergeCommit != tip {
		t.Errorf("List after merge = %+v", list)
	}
	if stored := fx.git("show", string(ForgeRef)+":pulls.json"); !strings.Contains(stored, `"mergeCommit": "`+tip+`"`) {
		t.Errorf("pulls.json does not record the merge:\n%s", stored)
	}
	again, err := fx.forge().Merge(ctx, pr.Number, "")
	if err != nil || again.MergeCommit != tip {
		t.Errorf("second Merge = %+v, %v", again, err)
	}
	if fx.git("rev-parse", "main") != tip {
		t.Error("second Merge moved main")
	}
	if err := f.Close(ctx, pr.Number, "no"); err == nil || !strings.Contains(err.Error(), "merged") {
		t.Errorf("Close of a merged pull request: %v", err)
	}
	fx.fsck()
}

func TestMergeAfterBaseMovedKeepsBothSides(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	pr, _ := openPR(t, fx, f, deployBranch, map[string]string{
		"clusters/cloud/kustomization.yaml": "resources: [gitmig/ns.yaml]\n",
		"clusters/cloud/gitmig/ns.yaml":     "kind: Namespace\n",
		"base/orc8r/deployment.yaml":        "",
	})
	moved := fx.commit("main", "", map[string]string{"clusters/edge/kustomization.yaml": "resources: [../../base/orc8r, extra.yaml]\n", "clusters/edge/extra.yaml": "kind: ConfigMap\n"}, "someone else's change")

	merged, err := f.Merge(ctx, pr.Number, "")
	if err != nil {
		t.Fatal(err)
	}
	if first := fx.git("rev-parse", "main^1"); first != moved.String() {
		t.Errorf("merge's first parent %s, want the moved main %s", first, moved)
	}
	want := map[string]string{
		"clusters/cloud/kustomization.yaml": "resources: [gitmig/ns.yaml]",
		"clusters/cloud/gitmig/ns.yaml":     "kind: Namespace",
		"clusters/edge/kustomization.yaml":  "resources: [../../base/orc8r, extra.yaml]",
		"clusters/edge/extra.yaml":          "kind: ConfigMap",
	}
	files := strings.Split(fx.git("ls-tree", "-r", "--name-only", "main"), "\n")
	if !slices.Equal(files, slices.Sorted(maps.Keys(want))) {
		t.Errorf("main holds %v, want %v", files, slices.Sorted(maps.Keys(want)))
	}
	for name, content := range want {
		if got := fx.git("show", "main:"+name); got != content {
			t.Errorf("main:%s = %q, want %q", name, got, content)
		}
	}
	if merged.MergeCommit != fx.git("rev-parse", "main") {
		t.Errorf("merge commit %s is not main", merged.MergeCommit)
	}
	fx.fsck()
}

func TestMergeConflict(t *testing.T) {
	for name, tc := range map[string]struct {
		head, base map[string]string
		paths      []string
	}{
		"same file": {
			head:  map[string]string{"clusters/cloud/kustomization.yaml": "resources: [gitmig/ns.yaml]\n", "new.yaml": "x\n"},
			base:  map[string]string{"clusters/cloud/kustomization.yaml": "resources: [other.yaml]\n"},
			paths: []string{"clusters/cloud/kustomization.yaml"},
		},
		"deleted on one side": {
			head:  map[string]string{"base/orc8r/deployment.yaml": "kind: Deployment\nreplicas: 2\n"},
			base:  map[string]string{"base/orc8r/deployment.yaml": ""},
			paths: []string{"base/orc8r/deployment.yaml"},
		},
		"file against directory": {
			head:  map[string]string{"clusters/fog": "a file\n"},
			base:  map[string]string{"clusters/fog/kustomization.yaml": "resources: []\n"},
			paths: []string{"clusters/fog", "clusters/fog/kustomization.yaml"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			fx := newFixture(t, seedFiles())
			f := fx.forge()
			pr, _ := openPR(t, fx, f, deployBranch, tc.head)
			fx.commit("main", "", tc.base, "a conflicting change")
			before := fx.git("rev-parse", "main")

			_, err := f.Merge(ctx, pr.Number, "")
			var conflict *ConflictError
			if !errors.As(err, &conflict) {
				t.Fatalf("Merge: %v, want a ConflictError", err)
			}
			if !slices.Equal(conflict.Paths, tc.paths) {
				t.Errorf("conflict paths %v, want %v", conflict.Paths, tc.paths)
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not name %s", err, p)
				}
			}
			if fx.git("rev-parse", "main") != before {
				t.Error("a refused merge moved main")
			}
			list, err := f.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if list[0].State != forge.StateOpen {
				t.Errorf("after a conflict the pull request is %s", list[0].State)
			}
		})
	}
}

// The same change on both sides is no conflict, as in git.
func TestMergeIdenticalChangesOnBothSides(t *testing.T) {
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	same := map[string]string{"clusters/cloud/kustomization.yaml": "resources: [gitmig/ns.yaml]\n"}
	pr, _ := openPR(t, fx, f, deployBranch, same)
	fx.commit("main", "", same, "the same change, cherry-picked")
	if _, err := f.Merge(context.Background(), pr.Number, ""); err != nil {
		t.Fatal(err)
	}
	fx.fsck()
}

func TestPullRequestMergedByHand(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	ff, ffHead := openPR(t, fx, f, "gitmig/m/1-deploy", map[string]string{"a.yaml": "a\n"})
	noff, noffHead := openPR(t, fx, f, "gitmig/m/2-route", map[string]string{"b.yaml": "b\n"})
	open, _ := openPR(t, fx, f, "gitmig/m/3-flip", map[string]string{"c.yaml": "c\n"})
	// A fast-forward: main becomes the head.
	fx.pushHash(ffHead, "main")
	// A merge commit made with the git CLI, then more work on main.
	clone := filepath.Join(t.TempDir(), "clone")
	gitIn(t, filepath.Dir(clone), "clone", "-q", fx.remote, clone)
	gitIn(t, clone, "-c", "user.name=Dev", "-c", "user.email=dev@example.org", "merge", "-q", "--no-ff", "-m", "merge by hand", "origin/gitmig/m/2-route")
	handMerge := gitIn(t, clone, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(clone, "d.yaml"), []byte("d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, clone, "add", "d.yaml")
	gitIn(t, clone, "-c", "user.name=Dev", "-c", "user.email=dev@example.org", "commit", "-q", "-m", "later work")
	gitIn(t, clone, "push", "-q", "origin", "HEAD:main")
	forgeTip := fx.git("rev-parse", string(ForgeRef))

	list, err := fx.forge().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[int]forge.PullRequest{}
	for _, pr := range list {
		states[pr.Number] = pr
	}
	if pr := states[ff.Number]; pr.State != forge.StateMerged || pr.MergeCommit != ffHead.String() {
		t.Errorf("fast-forwarded pull request = %s at %s, want merged at its head %s", pr.State, pr.MergeCommit, ffHead)
	}
	if pr := states[noff.Number]; pr.State != forge.StateMerged || pr.MergeCommit != handMerge || pr.HeadSHA != noffHead.String() {
		t.Errorf("pull request merged by hand = %s at %s, want merged at %s", pr.State, pr.MergeCommit, handMerge)
	}
	if pr := states[open.Number]; pr.State != forge.StateOpen {
		t.Errorf("unmerged pull request is %s", pr.State)
	}
	if fx.git("rev-parse", string(ForgeRef)) != forgeTip {
		t.Error("List wrote to the forge ref")
	}
	if strings.Contains(fx.git("show", string(ForgeRef)+":pulls.json"), `"merged"`) {
		t.Errorf("List persisted the merges:\n%s", fx.git("show", string(ForgeRef)+":pulls.json"))
	}

	// The next change records them; merging one of them only records it.
	if err := f.Comment(ctx, open.Number, "still waiting"); err != nil {
		t.Fatal(err)
	}
	stored := fx.git("show", string(ForgeRef)+":pulls.json")
	if strings.Count(stored, `"state": "merged"`) != 2 || !strings.Contains(stored, handMerge) {
		t.Errorf("the next change did not record the merges:\n%s", stored)
	}
	if body := fx.git("log", "-1", "--format=%b", string(ForgeRef)); !strings.Contains(body, "#2 found merged into main at "+handMerge) {
		t.Errorf("forge commit body does not say what it found: %q", body)
	}
	mainTip := fx.git("rev-parse", "main")
	pr, err := f.Merge(ctx, noff.Number, "")
	if err != nil || pr.MergeCommit != handMerge {
		t.Errorf("Merge of a pull request merged by hand = %+v, %v", pr, err)
	}
	if fx.git("rev-parse", "main") != mainTip {
		t.Error("Merge of a merged pull request moved main")
	}
	fx.fsck()
}

// A Merge interrupted after pushing the base and before recording it converges: the
// next Merge only records it.
func TestMergeInterruptedBetweenItsPushes(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	pr, _ := openPR(t, fx, f, deployBranch, map[string]string{"a.yaml": "a\n"})
	crash := errors.New("killed")
	f.beforePush = func(ref plumbing.ReferenceName) error {
		if ref == ForgeRef {
			return crash
		}
		return nil
	}
	if _, err := f.Merge(ctx, pr.Number, ""); !errors.Is(err, crash) {
		t.Fatalf("Merge: %v, want the simulated crash", err)
	}
	mergeCommit := fx.git("rev-parse", "main")
	if stored := fx.git("show", string(ForgeRef)+":pulls.json"); !strings.Contains(stored, `"state": "open"`) {
		t.Fatalf("the crash should have left the pull request open in pulls.json:\n%s", stored)
	}
	merged, err := fx.forge().Merge(ctx, pr.Number, "")
	if err != nil {
		t.Fatal(err)
	}
	if merged.State != forge.StateMerged || merged.MergeCommit != mergeCommit {
		t.Errorf("converged Merge = %+v, want merged at %s", merged, mergeCommit)
	}
	if fx.git("rev-parse", "main") != mergeCommit {
		t.Error("the second Merge made another merge commit")
	}
	if subject := fx.git("log", "-1", "--format=%s", string(ForgeRef)); subject != "merge #1 into main at "+mergeCommit {
		t.Errorf("forge commit %q", subject)
	}
	fx.fsck()
}

// A base that moves between the fetch and the push is refetched and merged again.
func TestMergeRetriesWhenBaseMoves(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	f := fx.forge()
	pr, _ := openPR(t, fx, f, deployBranch, map[string]string{"a.yaml": "a\n"})
	var moved plumbing.Hash
	f.beforePush = func(ref plumbing.ReferenceName) error {
		if ref == plumbing.NewBranchReferenceName("main") && moved.IsZero() {
			moved = fx.commit("main", "", map[string]string{"b.yaml": "b\n"}, "a race")
		}
		return nil
	}
	if _, err := f.Merge(ctx, pr.Number, ""); err != nil {
		t.Fatal(err)
	}
	if first := fx.git("rev-parse", "main^1"); first != moved.String() {
		t.Errorf("merge's first parent %s, want the commit that raced it %s", first, moved)
	}
	if files := fx.git("ls-tree", "--name-only", "main"); !strings.Contains(files, "a.yaml") || !strings.Contains(files, "b.yaml") {
		t.Errorf("main holds %q", files)
	}
	fx.fsck()
}
