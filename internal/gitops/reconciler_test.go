package gitops

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/render"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/tree"
)

// testClock is a clock that tests move by hand; safe for racing passes.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type staticSource struct{ snap *metrics.Snapshot }

func (s staticSource) Snapshot(context.Context, time.Time) (*metrics.Snapshot, error) {
	return s.snap, nil
}

// testFleet is the example repository in a bare remote with the local forge, and engine
// none: a merged step counts as applied and only the drain timer holds step 4.
type testFleet struct {
	t      *testing.T
	remote string
	cfg    *config.Config
	clock  *testClock
	snap   *metrics.Snapshot
	forge  *local.Forge
	seed   string
}

func newFleet(t *testing.T) *testFleet {
	t.Helper()
	snap, err := metrics.ParseSnapshot(gitmig.ExampleMetrics)
	if err != nil {
		t.Fatal(err)
	}
	f := &testFleet{t: t, remote: filepath.Join(t.TempDir(), "fleet.git"), clock: &testClock{now: snap.EvaluatedAt}, snap: snap}
	// The remote's gitmig.yaml is the example's with the local forge on the remote and
	// engine none, so that a pass that follows the base branch's file runs the same.
	data, err := fs.ReadFile(gitmig.Example, "gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "\ngitops:")
	if i < 0 {
		t.Fatal("the example's gitmig.yaml has no gitops section")
	}
	data = fmt.Appendf(data[:i:i], "\ngitops: {remote: %q, branch: main, engine: none, forge: local, dns: externalname}\n", f.remote)
	if f.cfg, err = config.Parse(data); err != nil {
		t.Fatal(err)
	}
	files := tree.With(tree.FromFS(gitmig.Example), []tree.Edit{{Path: "gitmig.yaml", Content: data}})
	if f.seed, err = workspace.Seed(f.remote, "main", files, "gitmig", "gitmig@localhost", f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.forge = f.newForge()
	return f
}

func (f *testFleet) newForge() *local.Forge {
	lf, err := local.New(local.Options{Remote: f.remote, Base: "main", Now: f.clock.Now})
	if err != nil {
		f.t.Fatal(err)
	}
	return lf
}

func (f *testFleet) reconciler() *Reconciler {
	setup, err := NewSetup(f.cfg, "", func(string) string { return "" })
	if err != nil {
		f.t.Fatal(err)
	}
	return &Reconciler{
		Clone:   setup.Clone(f.clock.Now),
		Forge:   f.forge,
		Gate:    gate.Hold{Inner: gate.Merged{}, Settle: f.cfg.Policy.RouteSettle.Duration, Drain: f.cfg.Policy.Drain.Duration},
		Metrics: staticSource{f.snap},
		Config:  f.cfg,
		Now:     f.clock.Now,
		At:      f.snap.EvaluatedAt,
	}
}

func (f *testFleet) prs() []forge.PullRequest {
	f.t.Helper()
	prs, err := f.forge.List(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	sort.Slice(prs, func(i, j int) bool { return prs[i].Number < prs[j].Number })
	return prs
}

// mergeOpen merges every open pull request, as a reviewer would, and returns how many.
func (f *testFleet) mergeOpen() int {
	f.t.Helper()
	n := 0
	for _, pr := range f.prs() {
		if pr.State == forge.StateOpen {
			if _, err := f.forge.Merge(context.Background(), pr.Number, ""); err != nil {
				f.t.Fatalf("merging #%d: %v", pr.Number, err)
			}
			n++
		}
	}
	return n
}

func (f *testFleet) git(args ...string) string {
	f.t.Helper()
	out, err := exec.Command("git", append([]string{"-C", f.remote}, args...)...).CombinedOutput()
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// headTree is the tree of the remote's main.
func headTree(t testing.TB, remote string) tree.Tree {
	t.Helper()
	ws, err := workspace.Clone(context.Background(), workspace.Options{Remote: remote, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	files, err := ws.Tree(ws.Head())
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// buildYAML is the build of a cluster's overlay in files, as kustomize prints it.
func buildYAML(t testing.TB, files tree.Tree, cfg *config.Config, cluster string) string {
	t.Helper()
	cl, ok := cfg.Cluster(cluster)
	if !ok {
		t.Fatalf("no cluster %s", cluster)
	}
	yml, err := fleet.NewBuilder(nil, 1).BuildYAML(files, cl.Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(yml)
}

func (f *testFleet) records() []*record.Record {
	f.t.Helper()
	recs, _, err := record.LoadAll(headTree(f.t, f.remote), f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return recs
}

// drive runs passes, merging what opens and moving the clock past the drain, until the
// migration is Completed. A pass that fails with errCrash is simply run again.
func (f *testFleet) drive(r *Reconciler) {
	f.t.Helper()
	for pass := 0; pass < 40; pass++ {
		rep, err := r.Pass(context.Background())
		if err != nil && !errors.Is(err, errCrash) {
			f.t.Fatalf("pass %d: %v", pass, err)
		}
		if err == nil && len(rep.Migrations) > 0 && rep.Migrations[0].Status == string(record.Completed) {
			return
		}
		f.mergeOpen()
		f.clock.Add(time.Minute + f.cfg.Policy.Drain.Duration)
	}
	f.t.Fatal("the migration did not complete in 40 passes")
}

var errCrash = errors.New("simulated crash")

func TestReconcileIsIdempotentAndOpensOnePullRequestPerMerge(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	ctx := context.Background()
	for _, s := range step.All() {
		for i := 0; i < 2; i++ {
			if _, err := r.Pass(ctx); err != nil {
				t.Fatalf("step %d pass %d: %v", s, i, err)
			}
			prs := f.prs()
			if len(prs) != int(s) {
				t.Fatalf("after step %d pass %d: %d pull requests, want %d", s, i, len(prs), s)
			}
			last := prs[len(prs)-1]
			wantTitle := fmt.Sprintf("gitmig: move orc8r edge→cloud [%s %s]", s.Of(), s.Name())
			if last.Title != wantTitle || last.State != forge.StateOpen || !last.HasLabel(forge.Label) {
				t.Fatalf("newest pull request: %+v, want open %q labelled %s", last, wantTitle, forge.Label)
			}
		}
		if got := f.mergeOpen(); got != 1 {
			t.Fatalf("merged %d pull requests, want 1", got)
		}
		if s == step.Route {
			// The route holds the flip for policy.routeSettle.
			f.clock.Add(f.cfg.Policy.RouteSettle.Duration)
		}
		if s == step.Flip {
			// The flip holds cleanup for policy.drain.
			if _, err := r.Pass(ctx); err != nil {
				t.Fatal(err)
			}
			if len(f.prs()) != 3 {
				t.Fatal("step 4 opened before the drain elapsed")
			}
			f.clock.Add(f.cfg.Policy.Drain.Duration)
		}
	}
	rep, err := r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.prs()) != 4 {
		t.Fatalf("a full migration made %d pull requests, want 4", len(f.prs()))
	}
	recs := f.records()
	if len(recs) != 1 || recs[0].Status.Phase != record.Completed || recs[0].Status.Step != 4 || len(recs[0].Status.PullRequests) != 4 {
		t.Fatalf("records: %+v", recs)
	}
	if rep.Migrations[0].Status != string(record.Completed) || rep.Migrations[0].WaitingFor != "" {
		t.Errorf("status: %+v", rep.Migrations[0])
	}
	// Once completed, further passes change nothing.
	head := f.git("rev-parse", "main")
	rep, err = r.Pass(ctx)
	if err != nil || len(rep.Actions) != 0 || f.git("rev-parse", "main") != head {
		t.Fatalf("pass after completion: actions %v, err %v", rep.Actions, err)
	}
	f.git("fsck", "--strict")
	f.assertFinalTreeEqualsSteps(recs[0].ID())
	// Every object gitmig wrote links to the pull request that wrote it.
	route := f.git("show", "main:clusters/cloud/gitmig/ingressroute-orc8r.yaml")
	want := fmt.Sprintf("link.argocd.argoproj.io/pull-request: %s#pulls?head=gitmig/%s/2-route", f.remote, recs[0].ID())
	if !strings.Contains(route, want) {
		t.Errorf("the IngressRoutes lack %q:\n%s", want, route)
	}
}

// assertFinalTreeEqualsSteps compares the builds on the remote's main with those of
// `gitmig step` 1..4 applied to the example, annotations aside.
func (f *testFleet) assertFinalTreeEqualsSteps(id string) {
	f.t.Helper()
	final := headTree(f.t, f.remote)
	stepped, err := fleet.NewBuilder(nil, 0).Load(context.Background(), tree.FromFS(gitmig.Example), f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := render.NewMigration(f.cfg, id, "orc8r", "edge", "cloud")
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range step.All() {
		change, err := render.Render(stepped, m, s)
		if err != nil {
			f.t.Fatal(err)
		}
		stepped = change.After
	}
	for _, cl := range f.cfg.Clusters {
		a, b := buildYAML(f.t, final, f.cfg, cl.Name), buildYAML(f.t, stepped.Tree, f.cfg, cl.Name)
		if stripAnnotations(a) != stripAnnotations(b) {
			f.t.Errorf("cluster %s: reconciled build differs from gitmig step 1..4:\n%s\n---\n%s", cl.Name, a, b)
		}
	}
}

func stripAnnotations(yaml string) string {
	var kept []string
	for _, line := range strings.Split(yaml, "\n") {
		if !strings.Contains(line, "gitmig.dev/") && !strings.Contains(line, "link.argocd.argoproj.io/") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

// endState is what a finished run leaves that a crash must not change.
func (f *testFleet) endState() string {
	var lines []string
	for _, pr := range f.prs() {
		lines = append(lines, fmt.Sprintf("#%d %s %s %s", pr.Number, pr.State, pr.Head, pr.Title))
	}
	lines = append(lines, f.git("for-each-ref", "--format=%(refname)", "refs/heads/"))
	for _, r := range f.records() {
		lines = append(lines, fmt.Sprintf("%s %s step %d", r.ID(), r.Status.Phase, r.Status.Step))
	}
	return strings.Join(lines, "\n")
}

func TestReconcileConvergesAfterACrashAtEveryAction(t *testing.T) {
	ref := newFleet(t)
	var kinds []report.ActionKind
	r := ref.reconciler()
	r.AfterAction = func(a report.Action) error { kinds = append(kinds, a.Kind); return nil }
	ref.drive(r)
	want := ref.endState()
	seen := map[report.ActionKind]bool{}
	for _, k := range kinds {
		seen[k] = true
	}
	for _, k := range []report.ActionKind{report.ActionRecord, report.ActionPushBranch, report.ActionCreatePR, report.ActionStatus} {
		if !seen[k] {
			t.Fatalf("the uninterrupted run took no %s action: %v", k, kinds)
		}
	}
	for crashAt := 1; crashAt <= len(kinds); crashAt++ {
		t.Run(fmt.Sprintf("after action %d %s", crashAt, kinds[crashAt-1]), func(t *testing.T) {
			f := newFleet(t)
			r := f.reconciler()
			count := 0
			r.AfterAction = func(a report.Action) error {
				count++
				if count == crashAt {
					return errCrash
				}
				return nil
			}
			f.drive(r)
			if got := f.endState(); got != want {
				t.Errorf("end state after a crash differs:\n%s\nwant:\n%s", got, want)
			}
			f.git("fsck", "--strict")
		})
	}
}

// labelDroppingForge opens pull requests without their labels and then fails, as a
// pass killed between GitHub's two calls would leave them.
type labelDroppingForge struct {
	forge.Forge
	dropped bool
}

func (l *labelDroppingForge) Create(ctx context.Context, pr forge.NewPullRequest) (forge.PullRequest, error) {
	if l.dropped {
		return l.Forge.Create(ctx, pr)
	}
	l.dropped = true
	pr.Labels = nil
	created, err := l.Forge.Create(ctx, pr)
	if err != nil {
		return created, err
	}
	return created, fmt.Errorf("adding labels to #%d: %w", created.Number, errCrash)
}

func TestReconcileLabelsAPullRequestLeftWithoutThem(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	r.Forge = &labelDroppingForge{Forge: f.forge}
	if _, err := r.Pass(context.Background()); !errors.Is(err, errCrash) {
		t.Fatalf("first pass: %v, want the simulated crash", err)
	}
	if prs := f.prs(); len(prs) != 1 || prs[0].HasLabel(forge.Label) {
		t.Fatalf("after the crash: %+v", prs)
	}
	rep, err := r.Pass(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prs := f.prs()
	if len(prs) != 1 || !prs[0].HasLabel(forge.Label) {
		t.Fatalf("after the second pass: %+v", prs)
	}
	if len(rep.Actions) != 1 || rep.Actions[0].Kind != report.ActionAddLabels {
		t.Errorf("actions: %+v, want one add-labels", rep.Actions)
	}
}

func TestRacingPassesOpenOnePullRequest(t *testing.T) {
	for _, skew := range []time.Duration{0, 2 * time.Minute} {
		t.Run(fmt.Sprintf("clock skew %s", skew), func(t *testing.T) {
			f := newFleet(t)
			a, b := f.reconciler(), f.reconciler()
			// Each pass has its own forge client, as two processes would.
			b.Forge = f.newForge()
			later := &testClock{now: f.clock.Now().Add(skew)}
			b.Now, b.At = later.Now, later.Now()
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, r := range []*Reconciler{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = r.Pass(context.Background())
				}()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if prs := f.prs(); len(prs) != 1 {
				t.Fatalf("racing passes opened %d pull requests: %+v", len(prs), prs)
			}
			if recs := f.records(); len(recs) != 1 {
				t.Fatalf("racing passes wrote %d records", len(recs))
			}
			if branches := f.git("for-each-ref", "--format=%(refname)", "refs/heads/gitmig/"); strings.Count(branches, "\n") != 0 {
				t.Fatalf("branches: %s", branches)
			}
		})
	}
}

func TestClosingAPullRequestAbortsAndCoolsDown(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	ctx := context.Background()
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	f.mergeOpen()
	if _, err := r.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	prs := f.prs()
	if err := f.forge.Close(ctx, prs[1].Number, "not now"); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Pass(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs := f.records()
	if len(recs) != 1 || recs[0].Status.Phase != record.Aborted || !strings.Contains(recs[0].Status.Message, "closed without merge") {
		t.Fatalf("record: %+v", recs[0].Status)
	}
	if rep.Migrations[0].Status != string(record.Aborted) {
		t.Errorf("status: %+v", rep.Migrations[0])
	}
	// The same pass planned again: orc8r to cloud is cooling down, so nothing starts.
	if len(f.prs()) != 2 {
		t.Fatalf("a new migration started during the cooldown: %+v", f.prs())
	}
	rep, err = r.Pass(ctx)
	if err != nil || len(rep.Actions) != 0 {
		t.Fatalf("pass during cooldown: %v %+v", err, rep.Actions)
	}
}

func TestStatusReadsWithoutActing(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	ctx := context.Background()
	rep, err := r.Status(ctx)
	if err != nil || len(rep.Migrations) != 0 || len(f.prs()) != 0 {
		t.Fatalf("status of a fresh fleet: %+v, %v", rep, err)
	}
	mustPass(t, r)
	f.mergeOpen()
	head := f.git("rev-parse", "main")
	rep, err = r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Migrations[0]
	if len(f.prs()) != 1 || f.git("rev-parse", "main") != head || f.git("for-each-ref", "refs/heads/gitmig/") != f.git("for-each-ref", "refs/heads/gitmig/*/1-deploy") {
		t.Fatal("status changed the remote or the forge")
	}
	if m.Step != 1 || m.Status != "InProgress" || m.WaitingFor != "the next reconcile pass, which opens step 2 (route)" || m.Gate == nil || m.Gate.Verdict != gate.Pass {
		t.Errorf("status: %+v", m)
	}
	for _, a := range rep.Actions {
		if !a.DryRun {
			t.Errorf("status took action %+v", a)
		}
	}
}

// A pass cancelled between two actions stops there, leaving no action half done, and
// the next pass carries on without a duplicate.
func TestCancelledPassStopsBetweenActions(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("SIGTERM")
	var done []report.ActionKind
	r.AfterAction = func(a report.Action) error {
		done = append(done, a.Kind)
		cancel(stop) // the signal arrives while the first action, the record, is pushed
		return nil
	}
	_, err := r.Pass(ctx)
	if !errors.Is(err, stop) || !strings.Contains(err.Error(), "stopped before push-branch") {
		t.Fatalf("cancelled pass: %v", err)
	}
	if len(done) != 1 || done[0] != report.ActionRecord {
		t.Fatalf("actions taken: %v, want the record alone", done)
	}
	r.AfterAction = nil
	mustPass(t, r)
	if prs := f.prs(); len(prs) != 1 {
		t.Fatalf("after the next pass: %d pull requests, want 1", len(prs))
	}
	if recs := f.records(); len(recs) != 1 {
		t.Errorf("%d records, want 1", len(recs))
	}
}
