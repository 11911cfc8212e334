package engines_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmd/migrate"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/record"
	gitmigstep "github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/engines"
)

func TestLaterMovesWithArgoCD(t *testing.T) { testLaterMoves(t, config.EngineArgoCD) }
func TestLaterMovesWithFlux(t *testing.T)   { testLaterMoves(t, config.EngineFlux) }

// testLaterMoves runs a fleet's second and third moves on the example fleet with
// loadgen, a client of orc8r with no Service, in edge. The planner moves orc8r to
// cloud, as the metrics decide, loadgen in the fleet. Then orc8r moves on to fog by
// hand: its step 3 re-points the ExternalName the first move left in edge, so that agw
// and loadgen reach fog in one hop, and its cleanup leaves cloud an ExternalName to fog
// and no routes. Then loadgen moves to fog by hand, its steps 2 and 3 changing no
// overlay and its cleanup removing its Namespace from edge. Each move completes, and
// nothing outside orc8r-ns and loadgen-ns changes.
func testLaterMoves(t *testing.T, engine string) {
	s := newScenario(t, engine, setup{files: withLoadgen(t), moving: []string{"orc8r-ns", "loadgen-ns"}})
	baseline := s.fingerprints()
	s.Reconcile()
	flip := s.mergeSteps(orc8rToCloud, 3)
	if want := "| loadgen | edge | edge → cloud | 1 hop | 20ms |"; !strings.Contains(flip.Body, want) {
		t.Errorf("the planned move's step 3 lacks loadgen's path %q:\n%s", want, flip.Body)
	}
	s.mergeStep(orc8rToCloud, 4)
	s.WaitForMigration(migrationOf(t, flip), record.Completed)

	onToFog := move{app: orc8r, from: "cloud", to: "fog", repoints: []string{"edge"}}
	var refused *gitops.PolicyError
	if err := s.migrateByHand(onToFog, false); !errors.As(err, &refused) || !strings.Contains(err.Error(), "cooling down") {
		t.Errorf("moving orc8r again an hour after it moved: %v, want policy's refusal for the cooldown", err)
	}
	if err := s.migrateByHand(onToFog, true); err != nil {
		t.Fatalf("gitmig migrate orc8r --to fog --force: %v", err)
	}
	deploy := s.WaitForPR(onToFog.title(1))
	if !strings.Contains(deploy.Body, "**Started with `--force`, over policy.**") || !strings.Contains(deploy.Body, "cooling down") {
		t.Errorf("the forced move's step 1 does not say what policy refused:\n%s", deploy.Body)
	}
	second := migrationOf(t, deploy)
	flip = s.mergeSteps(onToFog, 3)
	for _, want := range []string{
		"Earlier moves left ExternalNames to cloud in edge; this step re-points them at fog",
		"| agw | edge | edge → fog | 1 hop | 5ms |",
		"| loadgen | edge | edge → fog | 1 hop | 5ms |",
	} {
		if !strings.Contains(flip.Body, want) {
			t.Errorf("the second move's step 3 lacks %q:\n%s", want, flip.Body)
		}
	}
	s.mergeStep(onToFog, 4)
	s.WaitForMigration(second, record.Completed)
	s.assertServesFrom("fog")

	loadgen := workload{namespace: "loadgen-ns", name: "loadgen", selector: "app.kubernetes.io/name=loadgen"}
	loadgenToFog := move{app: loadgen, from: "edge", to: "fog", clientOnly: true}
	if err := s.migrateByHand(loadgenToFog, true); err != nil {
		t.Fatalf("gitmig migrate loadgen --to fog --force: %v", err)
	}
	third := migrationOf(t, s.WaitForPR(loadgenToFog.title(1)))
	s.mergeSteps(loadgenToFog, 4)
	s.WaitForMigration(third, record.Completed)
	if err := s.Eventually(time.Minute, func() error { return s.available(loadgen, "fog") }); err != nil {
		t.Errorf("loadgen in fog: %v", err)
	}
	// The Namespace goes once its controller has deleted what is left in it.
	err := s.Eventually(engines.StepWait, func() error {
		if s.get("edge", deployments, "loadgen-ns", "loadgen") != nil {
			return fmt.Errorf("Deployment loadgen still in edge")
		}
		if s.get("edge", namespaces, "", "loadgen-ns") != nil {
			return fmt.Errorf("Namespace loadgen-ns still in edge")
		}
		return nil
	})
	if err != nil {
		t.Errorf("after loadgen's cleanup: %v", err)
	}
	s.assertServesFrom("fog")
	if diff := diffFingerprints(baseline, s.fingerprints(), ""); diff != "" {
		t.Errorf("after three moves, objects outside orc8r-ns and loadgen-ns changed:\n%s", diff)
	}
}

// assertServesFrom checks that orc8r runs only in home, and that edge's and cloud's
// Services lead there in one hop, cloud routing nothing to it.
func (s *scenario) assertServesFrom(home string) {
	s.t.Helper()
	if err := s.Eventually(time.Minute, func() error { return s.available(orc8r, home) }); err != nil {
		s.t.Errorf("orc8r in %s: %v", home, err)
	}
	for _, c := range s.Config.Clusters {
		if c.Name == home {
			continue
		}
		if s.get(c.Name, deployments, "orc8r-ns", "orc8r") != nil {
			s.t.Errorf("Deployment orc8r still in %s", c.Name)
		}
	}
	for _, cluster := range []string{"edge", "cloud"} {
		svc := s.get(cluster, services, "orc8r-ns", "orc8r")
		if svc == nil {
			s.t.Errorf("no Service orc8r in %s", cluster)
			continue
		}
		name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName")
		if want := home + ".testnetwork.internal"; name != want {
			s.t.Errorf("%s's Service orc8r leads to %q, want %q", cluster, name, want)
		}
	}
	for _, r := range orc8rRoutes {
		if s.get("cloud", r.res, "orc8r-ns", r.name) != nil {
			s.t.Errorf("cloud still routes orc8r: %s orc8r-ns/%s", r.res.Resource, r.name)
		}
	}
}

// migrateByHand runs `gitmig migrate SERVICE --to TO` in the fleet's checkout, as a
// person would, with --force when force is set.
func (s *scenario) migrateByHand(m move, force bool) error {
	var out strings.Builder
	err := migrate.Run(context.Background(), &migrate.Options{
		Globals: &cmdutil.Globals{Repo: s.Repo, Config: s.ConfigPath},
		Streams: cmdutil.Streams{Out: &out, Err: io.Discard},
		Service: m.app.name, From: m.from, To: m.to, Force: force,
		Reason:  "the scenario moves it by hand",
		Metrics: cmdutil.MetricsFlags{Metrics: s.MetricsPath},
		Env:     func(string) string { return "" }, Now: time.Now,
	})
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out.String())
	}
	return nil
}

// migrationOf is the ID of the migration a step pull request belongs to.
func migrationOf(t *testing.T, pr forge.PullRequest) string {
	t.Helper()
	b, ok := gitmigstep.ParseBranch(pr.Head)
	if !ok {
		t.Fatalf("#%d's branch %q is not gitmig's", pr.Number, pr.Head)
	}
	return b.ID
}

// withLoadgen is the example fleet with loadgen, a Deployment with no Service that
// calls orc8r, in edge; gitmig.yaml lists it as orc8r's client, pinned, so that the
// planner leaves it where it is.
func withLoadgen(t *testing.T) fs.FS {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(gitmig.Example, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(gitmig.Example, p)
		files[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) {
		t.Helper()
		data := string(files[name].Data)
		if !strings.Contains(data, old) {
			t.Fatalf("%s has no %q", name, old)
		}
		files[name] = &fstest.MapFile{Data: []byte(strings.Replace(data, old, new, 1))}
	}
	edit("gitmig.yaml", "clients: [agw]", "clients: [agw, loadgen]")
	edit("gitmig.yaml", "\npolicy:", "\n  - {name: loadgen, namespace: loadgen-ns, base: base/loadgen, tiers: [edge, fog], pinned: true}\npolicy:")
	edit("clusters/edge/kustomization.yaml", "  - ../../base/orc8r\n", "  - ../../base/orc8r\n  - ../../base/loadgen\n")
	for name, data := range map[string]string{
		"base/loadgen/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [namespace.yaml, deployment.yaml]\n",
		"base/loadgen/namespace.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: loadgen-ns}\n",
		"base/loadgen/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: loadgen
  namespace: loadgen-ns
  labels: {app.kubernetes.io/name: loadgen}
spec:
  replicas: 1
  selector:
    matchLabels: {app.kubernetes.io/name: loadgen}
  template:
    metadata:
      labels: {app.kubernetes.io/name: loadgen}
    spec:
      containers:
        - name: loadgen
          image: registry.example.net/loadgen:1.0
          args: [--target=orc8r.orc8r-ns.svc:9180]
          resources:
            requests: {cpu: 100m, memory: 64Mi}
`,
	} {
		files[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return files
}
