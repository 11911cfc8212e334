package local

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

// raceOnce makes f's first push of the forge ref lose a race to change: the change
// lands on the remote between f's fetch and f's push. It returns how many pushes f
// tried.
func raceOnce(t *testing.T, f *Forge, change func()) *int {
	t.Helper()
	pushes := 0
	f.beforePush = func(ref plumbing.ReferenceName) error {
		if ref == ForgeRef {
			pushes++
			if pushes == 1 {
				change()
			}
		}
		return nil
	}
	return &pushes
}

func TestCreateReappliedAfterLosingARace(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.commit("gitmig/a/1-deploy", "main", map[string]string{"a.yaml": "a\n"}, "a")
	fx.commit("gitmig/b/1-deploy", "main", map[string]string{"b.yaml": "b\n"}, "b")
	f, rival := fx.forge(), fx.forge()
	var rivalPR forge.PullRequest
	pushes := raceOnce(t, f, func() {
		var err error
		if rivalPR, err = rival.Create(ctx, forge.NewPullRequest{Title: "b", Head: "gitmig/b/1-deploy"}); err != nil {
			t.Error(err)
		}
	})
	pr, err := f.Create(ctx, forge.NewPullRequest{Title: "a", Head: "gitmig/a/1-deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if *pushes != 2 {
		t.Errorf("%d pushes, want a lost one and a retry", *pushes)
	}
	if rivalPR.Number != 1 || pr.Number != 2 {
		t.Errorf("numbers: rival #%d, retried #%d; want #1 and #2", rivalPR.Number, pr.Number)
	}
	list, err := fx.forge().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("lost an update: %+v", list)
	}
	if n := fx.forgeCommits(); n != 2 {
		t.Errorf("%d forge commits, want 2", n)
	}
	fx.fsck()
}

func TestRacingCreatesForOneHeadMakeOnePullRequest(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.commit(deployBranch, "main", map[string]string{"a.yaml": "a\n"}, "a")
	f, rival := fx.forge(), fx.forge()
	var rivalPR forge.PullRequest
	raceOnce(t, f, func() {
		var err error
		if rivalPR, err = rival.Create(ctx, forge.NewPullRequest{Title: "rival", Head: deployBranch}); err != nil {
			t.Error(err)
		}
	})
	pr, err := f.Create(ctx, forge.NewPullRequest{Title: "mine", Head: deployBranch})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Number != rivalPR.Number || pr.Title != "rival" {
		t.Errorf("Create = #%d %q, want the rival's #%d", pr.Number, pr.Title, rivalPR.Number)
	}
	db, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Pulls) != 1 {
		t.Errorf("%d pull requests, want 1", len(db.Pulls))
	}
}

// Real gitmig runs, each its own Forge, creating pull requests at the same time.
func TestConcurrentRunsLoseNoUpdate(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	const runs, each = 2, 3
	for r := range runs {
		for i := range each {
			fx.commit(fmt.Sprintf("gitmig/run%d/%d-deploy", r, i+1), "main", map[string]string{fmt.Sprintf("run%d-%d.yaml", r, i): "x\n"}, "work")
		}
	}
	fx.commit("gitmig/shared/1-deploy", "main", map[string]string{"shared.yaml": "x\n"}, "shared")

	var wg sync.WaitGroup
	shared := make([]int, runs)
	for r := range runs {
		f := fx.forge()
		wg.Go(func() {
			for i := range each {
				if _, err := f.Create(ctx, forge.NewPullRequest{Title: "t", Head: fmt.Sprintf("gitmig/run%d/%d-deploy", r, i+1)}); err != nil {
					t.Error(err)
				}
				if i == 0 {
					pr, err := f.Create(ctx, forge.NewPullRequest{Title: fmt.Sprintf("shared by run %d", r), Head: "gitmig/shared/1-deploy"})
					if err != nil {
						t.Error(err)
					}
					shared[r] = pr.Number
				}
			}
		})
	}
	wg.Wait()

	list, err := fx.forge().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var numbers []int
	heads := map[string]int{}
	for _, pr := range list {
		numbers = append(numbers, pr.Number)
		heads[pr.Head]++
	}
	want := runs*each + 1
	if !slices.Equal(numbers, []int{1, 2, 3, 4, 5, 6, 7}) || len(heads) != want {
		t.Errorf("numbers %v over %d heads, want 1..%d over %d heads", numbers, len(heads), want, want)
	}
	if shared[0] != shared[1] {
		t.Errorf("the runs got different pull requests for one head: #%d and #%d", shared[0], shared[1])
	}
	if n := fx.forgeCommits(); n != want {
		t.Errorf("%d forge commits, want %d", n, want)
	}
	fx.fsck()
}
