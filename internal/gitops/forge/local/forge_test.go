package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitmig/gitmig/internal/gitops/forge"
)

const deployBranch = "gitmig/orc8r-edge-to-cloud-20261127-0930/1-deploy"

func seedFiles() map[string]string {
	return map[string]string{
		"clusters/edge/kustomization.yaml":  "resources: [../../base/orc8r]\n",
		"clusters/cloud/kustomization.yaml": "resources: []\n",
		"base/orc8r/deployment.yaml":        "kind: Deployment\n",
	}
}

func TestCreateListAndEditRoundTrip(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	head := fx.commit(deployBranch, "main", map[string]string{"clusters/cloud/kustomization.yaml": "resources: [gitmig/namespace.yaml]\n"}, "step 1")
	fx.commit("feature", "main", map[string]string{"README.md": "hello\n"}, "unrelated work")
	f := fx.forge()

	pr, err := f.Create(ctx, forge.NewPullRequest{Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "evidence", Head: deployBranch, Labels: []string{forge.Label, forge.Label}})
	if err != nil {
		t.Fatal(err)
	}
	want := forge.PullRequest{
		Number: 1, Title: "gitmig: move orc8r edge→cloud [1/4 deploy]", Body: "evidence",
		Head: deployBranch, HeadSHA: head.String(), Base: "main", State: forge.StateOpen,
		Labels: []string{forge.Label}, URL: fx.remote + "#pull/1", CreatedAt: clock.UTC(),
	}
	if !equalPR(pr, want) {
		t.Fatalf("Create:\n got %+v\nwant %+v", pr, want)
	}
	other, err := f.Create(ctx, forge.NewPullRequest{Title: "not gitmig's", Head: "feature"})
	if err != nil {
		t.Fatal(err)
	}
	if other.Number != 2 {
		t.Errorf("second pull request is #%d, want #2", other.Number)
	}

	if err := f.AddLabels(ctx, 1, "step/deploy", forge.Label); err != nil {
		t.Fatal(err)
	}
	if err := f.UpdateBody(ctx, 1, "new evidence"); err != nil {
		t.Fatal(err)
	}
	if err := f.Comment(ctx, 1, "waiting for Argo CD"); err != nil {
		t.Fatal(err)
	}
	status := forge.Status{State: forge.StatusSuccess, Context: "gitmig/gate", Description: "applied", TargetURL: "https://argocd.example.org"}
	if err := f.SetStatus(ctx, head.String(), status); err != nil {
		t.Fatal(err)
	}
	commits := fx.forgeCommits()
	// Reporting the same status and labels again records nothing.
	if err := f.SetStatus(ctx, head.String(), status); err != nil {
		t.Fatal(err)
	}
	if err := f.AddLabels(ctx, 1, forge.Label); err != nil {
		t.Fatal(err)
	}
	if got := fx.forgeCommits(); got != commits {
		t.Errorf("repeated status and labels made %d forge commits", got-commits)
	}

	// A second forge on the same remote, as the next gitmig run, sees it all.
	list, err := fx.forge().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.Body, want.Labels = "new evidence", []string{forge.Label, "step/deploy"}
	if len(list) != 1 || !equalPR(list[0], want) {
		t.Fatalf("List (gitmig's pull requests only):\n got %+v\nwant [%+v]", list, want)
	}
	db, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Pulls) != 2 || db.Pulls[1].Head != "feature" {
		t.Errorf("Read: want both pull requests, got %+v", db.Pulls)
	}
	if c := db.Pulls[0].Comments; len(c) != 1 || c[0].Body != "waiting for Argo CD" || !c[0].CreatedAt.Equal(clock) {
		t.Errorf("comments = %+v", c)
	}
	wantStatus := CommitStatus{State: forge.StatusSuccess, Context: "gitmig/gate", Description: "applied", TargetURL: "https://argocd.example.org", CreatedAt: clock.UTC()}
	if st := db.Statuses[head.String()]; len(st) != 1 || st[0] != wantStatus {
		t.Errorf("statuses of %s = %+v, want [%+v]", head, st, wantStatus)
	}
	// The forge interface's reads see the same, from a fresh forge.
	if st, err := fx.forge().Statuses(ctx, strings.ToUpper(head.String())); err != nil || len(st) != 1 || st[0] != status {
		t.Errorf("Statuses(%s) = %+v, %v; want [%+v]", head, st, err, status)
	}
	if st, err := fx.forge().Statuses(ctx, plumbing.ZeroHash.String()); err != nil || len(st) != 0 {
		t.Errorf("Statuses of a commit without any = %+v, %v", st, err)
	}
	if c, err := fx.forge().Comments(ctx, 1); err != nil || len(c) != 1 || c[0] != (forge.Comment{Body: "waiting for Argo CD", CreatedAt: clock.UTC()}) {
		t.Errorf("Comments(1) = %+v, %v", c, err)
	}
	if _, err := fx.forge().Comments(ctx, 9); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("Comments(9) = %v, want forge.ErrNotFound", err)
	}

	// The git CLI reads the same database, and the ref's history is the audit log.
	var onDisk Database
	if err := json.Unmarshal([]byte(fx.git("show", string(ForgeRef)+":pulls.json")), &onDisk); err != nil {
		t.Fatal(err)
	}
	if onDisk.Version != 1 || len(onDisk.Pulls) != 2 || onDisk.Pulls[0].URL != want.URL {
		t.Errorf("pulls.json as git shows it: %+v", onDisk)
	}
	log := strings.Split(fx.git("log", "--format=%s", string(ForgeRef)), "\n")
	wantLog := []string{
		"status success for gitmig/gate on " + head.String()[:12],
		"comment on #1",
		"edit the body of #1",
		"label #1: step/deploy, gitmig",
		"open #2 from feature into main: not gitmig's",
		"open #1 from " + deployBranch + " into main: gitmig: move orc8r edge→cloud [1/4 deploy]",
	}
	if !slices.Equal(log, wantLog) {
		t.Errorf("forge log:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(wantLog, "\n"))
	}
	if author, want := fx.git("log", "-1", "--format=%an <%ae> %ad", "--date=raw", string(ForgeRef)), fmt.Sprintf("gitmig test <gitmig@example.org> %d +0100", clock.Unix()); author != want {
		t.Errorf("forge commit author = %q, want %q", author, want)
	}
	fx.fsck()
}

func TestCreateRefusals(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.pushHash(plumbing.NewHash(fx.git("rev-parse", "main")), "gitmig/empty/1-deploy")
	f := fx.forge()
	for name, pr := range map[string]forge.NewPullRequest{
		"missing branch": {Title: "t", Head: "gitmig/nowhere/1-deploy"},
		"no commits":     {Title: "t", Head: "gitmig/empty/1-deploy"},
		"missing base":   {Title: "t", Head: "gitmig/empty/1-deploy", Base: "prod"},
		"empty title":    {Head: "gitmig/empty/1-deploy"},
	} {
		if _, err := f.Create(ctx, pr); err == nil {
			t.Errorf("%s: Create succeeded", name)
		}
	}
	for name, err := range map[string]error{
		"UpdateBody": f.UpdateBody(ctx, 7, "x"),
		"AddLabels":  f.AddLabels(ctx, 7, "x"),
		"Comment":    f.Comment(ctx, 7, "x"),
		"Close":      f.Close(ctx, 7, ""),
		"Merge":      second(f.Merge(ctx, 7, "")),
	} {
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("%s of an unknown number: %v, want forge.ErrNotFound", name, err)
		}
	}
	if err := f.SetStatus(ctx, strings.Repeat("a", 40), forge.Status{State: forge.StatusSuccess, Context: "c"}); err == nil {
		t.Error("SetStatus on a commit the remote lacks succeeded")
	}
	if out := fx.git("for-each-ref", "refs/gitmig/"); out != "" {
		t.Errorf("refused calls wrote the forge ref: %s", out)
	}
}

func TestCreateFindsTheOpenPullRequestOfItsHead(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.commit(deployBranch, "main", map[string]string{"a.yaml": "a\n"}, "step 1")
	first, err := fx.forge().Create(ctx, forge.NewPullRequest{Title: "one", Head: deployBranch})
	if err != nil {
		t.Fatal(err)
	}
	// A pass that crashed after creating the pull request runs again.
	again, err := fx.forge().Create(ctx, forge.NewPullRequest{Title: "one, again", Head: deployBranch})
	if err != nil {
		t.Fatal(err)
	}
	if again.Number != first.Number || again.Title != "one" {
		t.Errorf("second Create = #%d %q, want #%d %q", again.Number, again.Title, first.Number, "one")
	}
	if n := fx.forgeCommits(); n != 1 {
		t.Errorf("%d forge commits, want 1", n)
	}
	// Once it is closed, the same head may be proposed anew.
	f := fx.forge()
	if err := f.Close(ctx, first.Number, "aborted"); err != nil {
		t.Fatal(err)
	}
	next, err := f.Create(ctx, forge.NewPullRequest{Title: "two", Head: deployBranch})
	if err != nil {
		t.Fatal(err)
	}
	if next.Number != 2 {
		t.Errorf("Create after close = #%d, want #2", next.Number)
	}
}

func TestCloseWithComment(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t, seedFiles())
	fx.commit(deployBranch, "main", map[string]string{"a.yaml": "a\n"}, "step 1")
	f := fx.forge()
	if _, err := f.Create(ctx, forge.NewPullRequest{Title: "one", Head: deployBranch}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(ctx, 1, "cloud is overloaded too"); err != nil {
		t.Fatal(err)
	}
	if n := fx.forgeCommits(); n != 2 {
		t.Errorf("create and close made %d forge commits, want 2: the comment and the close are one", n)
	}
	if err := f.Close(ctx, 1, "cloud is overloaded too"); err != nil {
		t.Errorf("closing again: %v", err)
	}
	db, err := f.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := db.Pulls[0]
	if p.State != forge.StateClosed || !p.ClosedAt.Equal(clock) || len(p.Comments) != 1 || p.Comments[0].Body != "cloud is overloaded too" {
		t.Errorf("closed pull request = %+v", p)
	}
	if _, err := f.Merge(ctx, 1, ""); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Merge of a closed pull request: %v", err)
	}
	if got := fx.git("rev-list", "--count", "main"); got != "1" {
		t.Errorf("main has %s commits after refused merge, want 1", got)
	}
	fx.fsck()
}

func equalPR(a, b forge.PullRequest) bool {
	return a.Number == b.Number && a.Title == b.Title && a.Body == b.Body && a.Head == b.Head &&
		a.HeadSHA == b.HeadSHA && a.Base == b.Base && a.State == b.State && slices.Equal(a.Labels, b.Labels) &&
		a.URL == b.URL && a.MergeCommit == b.MergeCommit && a.CreatedAt.Equal(b.CreatedAt) &&
		a.MergedAt.Equal(b.MergedAt) && a.ClosedAt.Equal(b.ClosedAt)
}

func second[T any](_ T, err error) error { return err }
