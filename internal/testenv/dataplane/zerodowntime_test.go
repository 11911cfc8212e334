package dataplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmd/migrate"
	"github.com/gitmig/gitmig/internal/cmd/step"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/record"
	gitmigstep "github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/dataplane"
	"github.com/gitmig/gitmig/internal/testenv/engines"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
)

// optIn turns the test on: it takes minutes, so `go test ./...` skips it and .ci/run
// runs it on its own.
const optIn = "GITMIG_DATAPLANE_E2E"

// drain is policy.drain: the flip is held this long before cleanup opens.
const drain = 5 * time.Second

// probeLimit bounds how long the probes run whatever happens to the test.
const probeLimit = 30 * time.Minute

// settle is how long the probes run before the negative control, between it and the
// migration, and after the migration completed, so that each window has requests
// from before and after what it measures.
const settle = 3 * time.Second

// TestMain keeps the git server's line per HTTP request out of the output.
func TestMain(m *testing.M) {
	log.SetOutput(engines.QuietGitLog(os.Stderr))
	os.Exit(m.Run())
}

// TestZeroDowntime moves a service with real Flux (or Argo CD) and gitmig's reconcile
// loop while its clients call every port of it through real CoreDNS, kube-proxy and
// Traefik, and fails on any failed request. Before the migration, a negative control
// applies gitmig's own flip before the destination runs or routes the service, which
// must fail requests, or the harness could not see downtime.
//
// GITMIG_DATAPLANE_REPO, _SERVICE and _TO choose another fleet repository (with its
// argocd/ or flux/ bootstrap), service and destination; _ENGINE is flux (default) or
// argocd; _REPORT names a file for the JSON report.
func TestZeroDowntime(t *testing.T) {
	if os.Getenv(optIn) == "" {
		t.Skipf("data-plane test: set %s=1 to run it; it takes minutes (docs/dataplane.md)", optIn)
	}
	dataplane.Available(t)
	var files fs.FS = gitmig.Example
	bootstrapRoot := filepath.Join("..", "..", "..")
	if dir := os.Getenv("GITMIG_DATAPLANE_REPO"); dir != "" {
		files, bootstrapRoot = os.DirFS(dir), dir
	}
	service := envOr("GITMIG_DATAPLANE_SERVICE", "orc8r")
	to := envOr("GITMIG_DATAPLANE_TO", "cloud")
	engine := envOr("GITMIG_DATAPLANE_ENGINE", config.EngineFlux)
	data, err := fs.ReadFile(files, "gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		t.Fatal(err)
	}

	started := time.Now()
	fleet := engines.NewFleet(t, engines.FleetOptions{
		Engine:      engine,
		Files:       files,
		Bootstrap:   filepath.Join(bootstrapRoot, engine),
		Drain:       drain,
		StepTimeout: 10 * time.Minute,
		Metrics:     unknownMetrics(cfg),
		Node:        func(c config.Cluster, n engines.Node) engines.Node { return dataplane.Node(cfg, c, n) },
	})
	plane := dataplane.Start(t, fleet, service)
	from := runsIn(t, fleet, service)
	t.Logf("%s: clusters, engine and data plane up in %s; %d probes of %s in %s", engine, time.Since(started).Round(time.Second), len(plane.Probes), service, from)
	stop := plane.Run(probeLimit)
	t.Cleanup(stop)
	time.Sleep(settle)
	if w := plane.Measure("before", started, time.Now()); w.Failed > 0 || w.Requests == 0 {
		t.Fatalf("before anything changed: %d of %d requests failed: %v", w.Failed, w.Requests, w.Errors)
	}

	control := negativeControl(t, fleet, plane, service, from, to)
	t.Logf("negative control: %d of %d requests failed: %v", control.Failed, control.Requests, control.Errors)

	start := time.Now()
	steps := migrateService(t, fleet, service, from, to)
	time.Sleep(settle)
	end := time.Now()
	stop()

	rep := plane.Report(service, from, to, engine, steps, start, end)
	rep.NegativeControl = control
	t.Log("\n" + rep.Table())
	if path := os.Getenv("GITMIG_DATAPLANE_REPORT"); path != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if control.Failed == 0 {
		t.Errorf("the negative control failed no request: the harness cannot see downtime")
	}
	for _, p := range rep.Probes {
		if p.Failed > 0 {
			t.Errorf("%s in %s, port %s (%s): %d of %d requests failed during the migration: %v; first: %+v", p.Client, p.Cluster, p.Port, p.Protocol, p.Failed, p.Requests, p.Errors, p.Failures)
		}
		if p.ServedBy[to] == 0 {
			t.Errorf("%s in %s, port %s: no request answered by %s after the migration", p.Client, p.Cluster, p.Port, to)
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// unknownMetrics is a metrics snapshot in which every cluster is Unknown: gitmig
// starts nothing of its own and advances the migration the test starts.
func unknownMetrics(cfg *config.Config) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: gitmig.dev/v1alpha1\nkind: MetricsSnapshot\nevaluatedAt: %q\nsustain: 10m\nclusters:\n", time.Now().UTC().Format(time.RFC3339))
	for _, c := range cfg.Clusters {
		fmt.Fprintf(&b, "  - {name: %s, state: Unknown, why: not measured in the data-plane test}\n", c.Name)
	}
	return []byte(b.String())
}

// runsIn returns the one cluster whose Service of that name has a selector: where the
// service runs.
func runsIn(t *testing.T, f *engines.Fleet, service string) string {
	t.Helper()
	svc, _ := f.Config.Service(service)
	var found []string
	for _, c := range f.Config.Clusters {
		kube, err := kubernetes.NewForConfig(f.Env.Cluster(c.Name).Config)
		if err != nil {
			t.Fatal(err)
		}
		s, err := kube.CoreV1().Services(svc.Namespace).Get(context.Background(), svc.Name, metav1.GetOptions{})
		if err == nil && len(s.Spec.Selector) > 0 {
			found = append(found, c.Name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s runs in %v: want one cluster", service, found)
	}
	return found[0]
}

// negativeControl pushes gitmig's own flip of service in from (its step 3, rendered
// on a copy where steps 1 and 2 were written, of which only from's overlay is kept)
// while to neither runs nor routes the service, lets the engine apply it, then
// reverts it and waits until every probe succeeds again. It returns the requests from
// the push to the recovery.
func negativeControl(t *testing.T, f *engines.Fleet, plane *dataplane.Plane, service, from, to string) *dataplane.Window {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "control")
	gittest.Run(t, "", "clone", "--quiet", f.Git.URL, dir)
	for n := 1; n <= 3; n++ {
		err := step.Run(context.Background(), &step.Options{
			Globals: &cmdutil.Globals{Repo: dir, Config: filepath.Join(dir, "gitmig.yaml")},
			Streams: cmdutil.Streams{Out: io.Discard, Err: io.Discard},
			Service: service, From: from, To: to, Step: n, Now: time.Now,
		})
		if err != nil {
			t.Fatalf("gitmig step %d: %v", n, err)
		}
	}
	dest := overlay(f.Config, to)
	gittest.Run(t, dir, "checkout", "--", dest)
	gittest.Run(t, dir, "clean", "-fdq", "--", dest)
	gittest.Run(t, dir, "add", "-A")
	gittest.Run(t, dir, "commit", "-qm", fmt.Sprintf("negative control: flip %s in %s before %s runs or routes it", service, from, to))
	start := time.Now()
	gittest.Run(t, dir, "push", "--quiet", "origin", "HEAD:main")
	f.Refresh(from)
	f.WaitApplied(from, gittest.Run(t, dir, "rev-parse", "HEAD"))
	time.Sleep(settle)
	gittest.Run(t, dir, "revert", "--no-edit", "HEAD")
	gittest.Run(t, dir, "push", "--quiet", "origin", "HEAD:main")
	f.Refresh(from)
	f.WaitApplied(from, gittest.Run(t, dir, "rev-parse", "HEAD"))
	// Recovered once every probe has answered for a whole second.
	err := f.Eventually(engines.StepWait, func() error {
		since := time.Now().Add(-time.Second)
		for _, p := range plane.Probes {
			records := p.Records()
			ok := 0
			for i := len(records) - 1; i >= 0; i-- {
				r := records[i]
				if r.At.IsZero() {
					continue // still in flight
				}
				if !r.At.After(since) {
					break
				}
				if r.Err != "" {
					return fmt.Errorf("%s in %s, port %s: %s", p.Client, p.Cluster, p.Port, r.Err)
				}
				ok++
			}
			if ok < dataplane.ProbeRate/2 {
				return fmt.Errorf("%s in %s, port %s: %d answers in the last second", p.Client, p.Cluster, p.Port, ok)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after the negative control's revert: %v", err)
	}
	// The revert gave the Service a new ClusterIP, and the probes that dialled it before
	// kube-proxy translated it left conntrack entries that would time out later
	// connections from the same source ports: harm of the control, not of gitmig's
	// migration, which starts next.
	forgotten, err := plane.ForgetUntranslated(from)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("negative control: its revert left %d untranslated connections to %s's new ClusterIP in %s's conntrack table; deleted", forgotten, service, from)
	time.Sleep(settle)
	return plane.Measure(fmt.Sprintf("gitmig's flip of %s applied in %s before %s runs or routes it, then reverted", service, from, to), start, time.Now())
}

// migrateService starts the migration as `gitmig migrate` does, runs gitmig's
// reconcile loop, merges each step's pull request once it is opened and waits for the
// engine to apply it, as the real-engine scenarios do, until the migration completed.
func migrateService(t *testing.T, f *engines.Fleet, service, from, to string) []dataplane.StepReport {
	t.Helper()
	gittest.Run(t, f.Repo, "pull", "--quiet", "--ff-only")
	err := migrate.Run(context.Background(), &migrate.Options{
		Globals: &cmdutil.Globals{Repo: f.Repo, Config: f.ConfigPath},
		Streams: cmdutil.Streams{Out: io.Discard, Err: io.Discard},
		Service: service, From: from, To: to, Reason: "data-plane test",
		// Every cluster is Unknown in the test's snapshot, which policy never counts
		// as room for a move: the test forces it, as a person would without metrics.
		Force: true, Metrics: cmdutil.MetricsFlags{Metrics: f.MetricsPath},
		Env: func(string) string { return "" }, Now: time.Now,
	})
	if err != nil {
		t.Fatalf("gitmig migrate %s --to %s: %v", service, to, err)
	}
	f.Reconcile()
	var steps []dataplane.StepReport
	for n := 1; n <= 4; n++ {
		name := gitmigstep.Step(n).Name()
		pr := f.WaitForPR(fmt.Sprintf("gitmig: move %s %s→%s [%d/4 %s]", service, from, to, n, name))
		cluster := to
		if n >= 3 {
			cluster = from
		}
		merged := f.Merge(pr)
		mergedAt := time.Now()
		applied := f.WaitApplied(cluster, merged.MergeCommit)
		steps = append(steps, dataplane.StepReport{N: n, Name: name, Cluster: cluster, MergedAt: mergedAt, AppliedAt: applied})
	}
	f.WaitForPhase(record.Completed)
	return steps
}

// overlay is a cluster's overlay folder in the repository.
func overlay(cfg *config.Config, cluster string) string {
	for _, c := range cfg.Clusters {
		if c.Name == cluster && c.Path != "" {
			return c.Path
		}
	}
	return filepath.Join("clusters", cluster)
}
