package gitops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/rehearsal"
)

// commitFiles writes files over ref's tree, commits them as someone else, and pushes
// the result to branch.
func (a *attacker) commitFiles(ref, branch, message string, files map[string]string) string {
	a.f.t.Helper()
	a.git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*")
	a.git("checkout", "-q", "--detach", ref)
	for name, content := range files {
		p := filepath.Join(a.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			a.f.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			a.f.t.Fatal(err)
		}
		a.git("add", name)
	}
	a.git("commit", "-q", "-m", message)
	a.git("push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return a.git("rev-parse", "HEAD")
}

// untouched checks that the remote holds nothing but what it held at head: no record,
// no branch, no pull request.
func (f *testFleet) untouched(head string) {
	f.t.Helper()
	if got := f.git("rev-parse", "main"); got != head {
		f.t.Errorf("main moved to %s", got)
	}
	if branches := f.git("for-each-ref", "--format=%(refname)", "refs/heads/gitmig/"); branches != "" {
		f.t.Errorf("branches pushed: %s", branches)
	}
	if prs := f.prs(); len(prs) != 0 {
		f.t.Errorf("pull requests opened: %+v", prs)
	}
}

func TestMigrationByHandObeysPolicy(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	ctx := context.Background()
	head := f.git("rev-parse", "main")

	_, err := r.Start(ctx, StartRequest{Service: "agw", To: "cloud", Reason: "by hand"})
	var refused *PolicyError
	if !errors.As(err, &refused) {
		t.Fatalf("moving the pinned agw to a tier it may not use: %v", err)
	}
	for _, want := range []string{"pinned to edge in gitmig.yaml", "tier cloud is not in the service's tiers [edge]", "--force starts it anyway"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q:\n%v", want, err)
		}
	}
	f.untouched(head)

	// fog cannot hold orc8r within policy.target; --force starts it all the same, and
	// every place a person looks says so.
	_, err = r.Start(ctx, StartRequest{Service: "orc8r", To: "fog", Reason: "by hand"})
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "> target") {
		t.Fatalf("orc8r to fog: %v", err)
	}
	f.untouched(head)
	rep, err := r.Start(ctx, StartRequest{Service: "orc8r", To: "fog", Reason: "fog is being tested", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := f.records()
	if len(recs) != 1 || recs[0].Spec.DecidedBy != "gitmig migrate --force" || len(recs[0].Spec.PolicyOverridden) == 0 ||
		!strings.Contains(strings.Join(recs[0].Spec.PolicyOverridden, "\n"), "> target") {
		t.Fatalf("the record of a forced migration: %+v", recs)
	}
	prs := f.prs()
	if len(prs) != 1 || !strings.Contains(prs[0].Body, "Started with `--force`, over policy.") || !strings.Contains(prs[0].Body, "> target") {
		t.Errorf("step 1's pull request does not say policy was overridden:\n%s", prs[0].Body)
	}
	if len(rep.Migrations) != 1 || !slices.Equal(rep.Migrations[0].PolicyOverridden, recs[0].Spec.PolicyOverridden) {
		t.Errorf("status of the forced migration: %+v", rep.Migrations)
	}

	// One migration in flight fills policy.maxConcurrent (1): --force may override
	// that; a second migration of the same service, never.
	_, err = r.Start(ctx, StartRequest{Service: "agw", To: "fog", Reason: "by hand"})
	if !errors.As(err, &refused) || !strings.Contains(err.Error(), "policy.maxConcurrent 1 reached (1 in flight") {
		t.Errorf("a second migration past maxConcurrent: %v", err)
	}
	_, err = r.Start(ctx, StartRequest{Service: "orc8r", To: "cloud", Reason: "by hand", Force: true})
	if err == nil || !strings.Contains(err.Error(), "orc8r is already migrating") {
		t.Errorf("orc8r twice: %v", err)
	}
	f.git("fsck", "--strict")
}

// cloudDefinesOrc8r makes cloud's overlay define a Service orc8r of its own, so that
// step 1 of moving orc8r there cannot be written.
func cloudDefinesOrc8r(f *testFleet) {
	kust := f.git("show", "main:clusters/cloud/kustomization.yaml")
	newAttacker(f).commitFiles("origin/main", "main", "cloud: a hand-made orc8r Service", map[string]string{
		"clusters/cloud/orc8r-service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: orc8r, namespace: orc8r-ns}\nspec: {ports: [{name: x, port: 1}]}\n",
		"clusters/cloud/orc8r-ns.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata: {name: orc8r-ns}\n",
		"clusters/cloud/kustomization.yaml": strings.Replace(kust, "resources: []", "resources:\n  - orc8r-ns.yaml\n  - orc8r-service.yaml", 1),
	})
}

// A migration that cannot finish never starts, planned or by hand, --force or not.
func TestMigrationThatCannotFinishNeverStarts(t *testing.T) {
	f := newFleet(t)
	cloudDefinesOrc8r(f)
	head := f.git("rev-parse", "main")
	r := f.reconciler()

	_, err := r.Start(context.Background(), StartRequest{Service: "orc8r", To: "cloud", Reason: "by hand", Force: true})
	var cannot *rehearsal.Error
	if !errors.As(err, &cannot) || !strings.Contains(err.Error(), "step 1 (deploy) cannot be carried out") || !strings.Contains(err.Error(), "already defines Service orc8r-ns/orc8r") {
		t.Fatalf("by hand: %v", err)
	}
	f.untouched(head)

	rep := mustPass(t, r)
	if len(rep.Plan.Decisions) != 1 || rep.Plan.Decisions[0].To != "cloud" {
		t.Fatalf("the plan: %+v", rep.Plan.Decisions)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "not starting") && strings.Contains(n, "already defines Service")
	}) {
		t.Errorf("the pass does not say why the plan's migration did not start: %q", rep.Notes)
	}
	f.untouched(head)
}

// When gitmig.yaml changes under a migration so that its next step cannot be written,
// the merged step's gate fails with why and the fix, and the migration is rolled back
// after policy.stepTimeout.
func TestNextStepThatCannotBeWrittenFailsTheGateAndRollsBack(t *testing.T) {
	f := newFleet(t)
	r := f.reconciler()
	// Each pass follows the base branch's gitmig.yaml, gates included, and says when
	// the work tree's differs.
	r.Config, r.WorkTree = nil, f.cfg
	var gatedWith *config.Config
	r.GateFor = func(cfg *config.Config) (gate.Gate, error) {
		gatedWith = cfg
		return gate.Hold{Inner: gate.Merged{}, Settle: cfg.Policy.RouteSettle.Duration, Drain: cfg.Policy.Drain.Duration}, nil
	}
	mustPass(t, r)
	f.mergeOpen()
	first := f.prs()[0]

	// cloud's Traefik loses the entry point of orc8r's api port: step 2 has nowhere to
	// route it.
	edited := f.git("show", "main:gitmig.yaml")
	i := strings.Index(edited, "  - name: cloud\n")
	j := i + strings.Index(edited[i:], "api: 8080")
	edited = edited[:j] + "admin: 9444" + edited[j+len("api: 8080"):]
	newAttacker(f).commitFiles("origin/main", "main", "cloud: api moves to another port", map[string]string{"gitmig.yaml": edited})

	rep := mustPass(t, r)
	if len(f.prs()) != 1 {
		t.Fatalf("step 2 was opened: %+v", f.prs())
	}
	if cloud, _ := gatedWith.Cluster("cloud"); cloud.Ingress.EntryPoints["admin"].Port != 9444 {
		t.Errorf("the gates were made from another gitmig.yaml: cloud's entry points %v", cloud.Ingress.EntryPoints)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, "gitmig.yaml here differs from main's") }) {
		t.Errorf("notes: %q", rep.Notes)
	}
	m := rep.Migrations[0]
	if m.Gate == nil || m.Gate.Verdict != "Fail" || !strings.Contains(m.Gate.Reason, "gitmig cannot write step 2 (route)") ||
		!strings.Contains(m.Gate.Reason, "or run gitmig abort "+f.migrationID()) {
		t.Fatalf("gate: %+v", m.Gate)
	}
	if !strings.Contains(m.WaitingFor, "gitmig rolls back at") {
		t.Errorf("waiting for: %q", m.WaitingFor)
	}
	db, err := f.forge.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	statuses := db.Statuses[first.HeadSHA]
	if !slices.ContainsFunc(statuses, func(s local.CommitStatus) bool {
		return s.Context == GateContext && s.State == forge.StatusFailure && strings.Contains(s.Description, "cannot write step 2")
	}) {
		t.Errorf("statuses of step 1's head: %+v", statuses)
	}

	f.clock.Add(f.cfg.Policy.StepTimeout.Duration + time.Minute)
	mustPass(t, r)
	prs := f.prs()
	if len(prs) != 2 || !strings.Contains(prs[1].Head, "/undo-1-deploy") || prs[1].State != forge.StateOpen {
		t.Fatalf("after stepTimeout, want step 1's rollback open: %+v", prs)
	}
	f.mergeOpen()
	f.clock.Add(time.Minute)
	rep = mustPass(t, r)
	if rep.Migrations[0].Status != string(record.RolledBack) {
		t.Errorf("after the rollback merged: %+v", rep.Migrations[0])
	}
	f.git("fsck", "--strict")
}
