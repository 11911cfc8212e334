package engines

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/cmd/serve"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/record"
	"github.com/gitmig/gitmig/internal/gitops/server"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// ReconcileInterval is the --interval of gitmig's loop in a Fleet: how long at most a
// gate's answer waits to be seen, beyond the pass itself.
const ReconcileInterval = time.Second

// StepWait bounds each wait on a Fleet: an engine applying a merge, gitmig opening the
// next pull request. Two shared cores make it generous.
const StepWait = 4 * time.Minute

// FleetOptions says which fleet repository a Fleet runs, and how.
type FleetOptions struct {
	// Engine is config.EngineArgoCD or config.EngineFlux.
	Engine string
	// Files are the fleet repository's files, gitmig.yaml at the root. Its clusters,
	// services and policy are kept, but for policy.drain and stepTimeout; its gitops
	// section, which must come last, is replaced by one for the simulated clusters,
	// the local forge and Engine, with the same gitops.dns.
	Files fs.FS
	// Bootstrap is the engine's bootstrap folder (the project's argocd/ or flux/, or
	// the fleet's own), with one Application or Kustomization per cluster.
	Bootstrap string
	// Drain and StepTimeout replace policy.drain and policy.stepTimeout.
	Drain, StepTimeout time.Duration
	// Metrics is the snapshot `gitmig reconcile --metrics` reads.
	Metrics []byte
	// Node gives each cluster's one node, from the default one: named NodeName, with
	// the cluster's capacity, or 16 cores and 32Gi when gitmig.yaml gives none.
	Node func(c config.Cluster, byDefault Node) Node
	// AllowEmpty is ArgoCDOptions.AllowEmpty.
	AllowEmpty bool
	// Loop is how Reconcile runs gitmig; the zero Loop is `reconcile --interval 1s`.
	Loop Loop
}

// NodeName is the name of a Fleet cluster's node, unless FleetOptions.Node renames it.
func NodeName(cluster string) string { return cluster + "-0" }

// Fleet is a fleet repository on simulated clusters (a management cluster "mgmt" and
// one per cluster of its gitmig.yaml, with workers) served over HTTP, applied by a
// real engine, with a local forge on which the test merges gitmig's pull requests.
type Fleet struct {
	T      *testing.T
	Engine string
	// Config is the fleet's gitmig.yaml as gitmig reads it in the checkout.
	Config *config.Config
	Env    *kubeenv.Env
	Git    *GitServer
	Forge  *local.Forge
	// Repo is a checkout of the repository, where gitmig reconcile runs; ConfigPath its
	// gitmig.yaml.
	Repo, ConfigPath string
	// Log is gitmig reconcile's output, once Reconcile has started it.
	Log *LineLog
	// NoReceiver is set when Flux runs without the push webhook.
	NoReceiver bool
	// Loop is how Reconcile runs gitmig.
	Loop Loop
	// webhook is where serve takes GitHub's deliveries, once Reconcile runs it.
	webhook string

	// MetricsPath is the snapshot file the fleet's gitmig commands read.
	MetricsPath string
}

// NewFleet starts the clusters, serves the repository with a gitmig.yaml for this
// engine, and starts the engine, which applies every overlay before it returns.
func NewFleet(t *testing.T, opts FleetOptions) *Fleet {
	t.Helper()
	dir := t.TempDir()
	f := &Fleet{T: t, Engine: opts.Engine, MetricsPath: filepath.Join(dir, "metrics.yaml"), Loop: opts.Loop}
	if f.Loop == (Loop{}) {
		f.Loop = Loop{Interval: ReconcileInterval}
	}
	original, err := fs.ReadFile(opts.Files, "gitmig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(original)
	if err != nil {
		t.Fatalf("the fleet's gitmig.yaml: %v", err)
	}
	names := []string{"mgmt"}
	for _, c := range cfg.Clusters {
		names = append(names, c.Name)
	}
	f.Env = kubeenv.Start(t, names...)
	var workloads []Workload
	var clusters []*kubeenv.Cluster
	for _, c := range cfg.Clusters {
		// gitmig.yaml may leave out the capacity of a cluster that it never fills.
		node := Node{Name: NodeName(c.Name), CPU: "16", Memory: "32Gi"}
		if c.Capacity != nil {
			node.CPU, node.Memory = c.Capacity.CPU, c.Capacity.Memory
		}
		if opts.Node != nil {
			node = opts.Node(c, node)
		}
		clusters = append(clusters, f.Env.Cluster(c.Name))
		workloads = append(workloads, Workload{Cluster: f.Env.Cluster(c.Name), Nodes: []Node{node}})
	}
	Workers(t, workloads...)

	f.Git = NewGitServer(t, "fleet", func(dir, url string) error {
		data, err := f.gitmigYAML(original, cfg, url, opts)
		if err != nil {
			return err
		}
		files := fstest.MapFS{}
		err = fs.WalkDir(opts.Files, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(p, ".git/") {
				return err
			}
			b, err := fs.ReadFile(opts.Files, p)
			files[p] = &fstest.MapFile{Data: b}
			return err
		})
		if err != nil {
			return err
		}
		files["gitmig.yaml"] = &fstest.MapFile{Data: data}
		_, err = workspace.Seed(dir, "main", files, "gitmig", "gitmig@localhost", time.Now())
		return err
	})
	// The scheduled job runs in a checkout of the fleet repository, with its gitmig.yaml.
	f.Repo = filepath.Join(dir, "fleet")
	if out, err := exec.Command("git", "clone", "--quiet", f.Git.URL, f.Repo).CombinedOutput(); err != nil {
		t.Fatalf("git clone %s: %v\n%s", f.Git.URL, err, out)
	}
	f.ConfigPath = filepath.Join(f.Repo, "gitmig.yaml")
	data, err := os.ReadFile(f.ConfigPath)
	if err == nil {
		f.Config, err = config.Parse(data)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.MetricsPath, opts.Metrics, 0o600); err != nil {
		t.Fatal(err)
	}
	if f.Forge, err = local.New(local.Options{Remote: f.Git.URL, Base: "main", AuthorName: "reviewer", AuthorEmail: "reviewer@localhost"}); err != nil {
		t.Fatal(err)
	}

	mgmt := f.Env.Cluster("mgmt")
	switch opts.Engine {
	case config.EngineArgoCD:
		StartArgoCD(t, mgmt, ArgoCDOptions{Bootstrap: opts.Bootstrap, RepoURL: f.Git.URL, Clusters: clusters, AllowEmpty: opts.AllowEmpty})
	case config.EngineFlux:
		// A webhook Receiver, as docs/adopting.md recommends, has source-controller
		// fetch on every push. GITMIG_ENGINES_FLUX_RECEIVER=off measures without it:
		// Flux then sees a merge at the GitRepository's interval (1m in flux/).
		receiver := f.Git
		if os.Getenv("GITMIG_ENGINES_FLUX_RECEIVER") == "off" {
			receiver, f.NoReceiver = nil, true
			t.Log("no webhook Receiver: source-controller fetches at the GitRepository's interval")
		}
		StartFlux(t, mgmt, FluxOptions{Bootstrap: opts.Bootstrap, RepoURL: f.Git.URL, Clusters: clusters, Receiver: receiver})
	default:
		t.Fatalf("engine %q: want %s or %s", opts.Engine, config.EngineArgoCD, config.EngineFlux)
	}
	return f
}

// gitmigYAML is the fleet's gitmig.yaml with the options' policy timings, and a gitops
// section for this repository, the local forge, the engine on mgmt and the workload
// clusters, whose Applications or Kustomizations are named after them.
func (f *Fleet) gitmigYAML(original []byte, cfg *config.Config, url string, opts FleetOptions) ([]byte, error) {
	data := string(original)
	for _, r := range []struct{ key, value string }{{"drain", opts.Drain.String()}, {"stepTimeout", opts.StepTimeout.String()}} {
		re := regexp.MustCompile(`(?m)^(  ` + r.key + `:) \S+$`)
		if re.MatchString(data) {
			data = re.ReplaceAllString(data, "$1 "+r.value)
			continue
		}
		if !strings.Contains(data, "\npolicy:\n") {
			return nil, fmt.Errorf("the fleet's gitmig.yaml has no policy section")
		}
		data = strings.Replace(data, "\npolicy:\n", "\npolicy:\n  "+r.key+": "+r.value+"\n", 1)
	}
	i := strings.Index(data, "\ngitops:\n")
	if i < 0 {
		return nil, fmt.Errorf("the fleet's gitmig.yaml has no gitops section")
	}
	var names, workloads []string
	for _, c := range cfg.Clusters {
		names = append(names, fmt.Sprintf("%s: %s", c.Name, c.Name))
		workloads = append(workloads, fmt.Sprintf("    %s: {kubeconfig: %q, context: %s}\n", c.Name, f.Env.Cluster(c.Name).Kubeconfig, c.Name))
	}
	var b strings.Builder
	b.WriteString(data[:i+1])
	dns := cfg.GitOps.DNS
	if dns == "" {
		dns = config.DNSExternalName
	}
	fmt.Fprintf(&b, "gitops:\n  remote: %s\n  branch: main\n  engine: %s\n  forge: local\n  dns: %s\n", url, opts.Engine, dns)
	mgmt := f.Env.Cluster("mgmt")
	switch opts.Engine {
	case config.EngineArgoCD:
		fmt.Fprintf(&b, "  argocd:\n    kubeconfig: %q\n    context: mgmt\n    namespace: %s\n    applications: {%s}\n", mgmt.Kubeconfig, ArgoCDNamespace, strings.Join(names, ", "))
	case config.EngineFlux:
		fmt.Fprintf(&b, "  flux:\n    kubeconfig: %q\n    context: mgmt\n    namespace: %s\n    kustomizations: {%s}\n", mgmt.Kubeconfig, FluxNamespace, strings.Join(names, ", "))
	}
	b.WriteString("  workloads:\n" + strings.Join(workloads, ""))
	out := []byte(b.String())
	if _, err := config.Parse(out); err != nil {
		return nil, fmt.Errorf("the test's gitmig.yaml: %w", err)
	}
	return out, nil
}

// Loop is how gitmig runs beside a Fleet: `reconcile --interval Interval`, a pass
// every Interval, or, with Serve, `gitmig serve`, a pass whenever a watched engine
// object or workload changes, its --interval only a safety net.
type Loop struct {
	Serve    bool
	Interval time.Duration
}

// ServeSafetyNet is serve's --interval in a Fleet: longer than a migration takes, so
// that every pass is one an event started.
const ServeSafetyNet = 10 * time.Minute

// LoopFromEnv reads a Loop from GITMIG_ENGINES_LOOP: empty for `reconcile --interval
// 1s`, a duration for another interval, or serve.
func LoopFromEnv() (Loop, error) {
	v := os.Getenv("GITMIG_ENGINES_LOOP")
	switch v {
	case "":
		return Loop{Interval: ReconcileInterval}, nil
	case "serve":
		return Loop{Serve: true, Interval: ServeSafetyNet}, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return Loop{}, fmt.Errorf("GITMIG_ENGINES_LOOP=%q: want serve or a positive duration", v)
	}
	return Loop{Interval: d}, nil
}

func (l Loop) String() string {
	if l.Serve {
		return "serve --interval " + l.Interval.String()
	}
	return "reconcile --interval " + l.Interval.String()
}

// Reconcile runs gitmig's loop (f.Loop, with --metrics <snapshot>) in the checkout
// until the test ends.
func (f *Fleet) Reconcile() {
	l := f.Loop
	f.Log = &LineLog{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	globals := &cmdutil.Globals{Repo: f.Repo, Config: f.ConfigPath}
	streams := cmdutil.Streams{Out: f.Log, Err: f.Log}
	metrics := cmdutil.MetricsFlags{Metrics: f.MetricsPath}
	noEnv := func(string) string { return "" }
	var listener net.Listener
	if l.Serve {
		var err error
		if listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			f.T.Fatal(err)
		}
		f.webhook = "http://" + listener.Addr().String() + "/webhooks/github"
	}
	go func() {
		if l.Serve {
			env := func(name string) string {
				if name == server.WebhookSecretEnv {
					return webhookSecret
				}
				return ""
			}
			done <- serve.Run(ctx, &serve.Options{
				Globals: globals, Streams: streams, Metrics: metrics, Listener: listener,
				Interval: l.Interval, LogFormat: "text", Env: env, Now: time.Now,
			})
			return
		}
		done <- reconcile.Run(ctx, &reconcile.Options{
			Globals: globals, Streams: streams, Metrics: metrics,
			Interval: l.Interval, Env: noEnv, Now: time.Now,
		})
	}()
	f.T.Cleanup(func() {
		cancel()
		// Stopped by the test, the loop says so; any other end is an error.
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			f.T.Errorf("gitmig %s: %v", l, err)
		}
		if f.T.Failed() {
			f.T.Logf("gitmig %s's last output:\n%s", l, f.Log.Tail(40))
		}
	})
}

// WaitForPR waits for gitmig to open the pull request of that title.
func (f *Fleet) WaitForPR(title string) forge.PullRequest {
	f.T.Helper()
	var found forge.PullRequest
	err := f.Eventually(StepWait, func() error {
		prs, err := f.Forge.List(context.Background())
		if err != nil {
			return err
		}
		var titles []string
		for _, pr := range prs {
			if pr.Title == title && pr.State == forge.StateOpen {
				found = pr
				return nil
			}
			titles = append(titles, fmt.Sprintf("#%d %s %q", pr.Number, pr.State, pr.Title))
		}
		return fmt.Errorf("pull requests: %s", strings.Join(titles, ", "))
	})
	if err != nil {
		f.T.Fatalf("waiting for %q: %v\ngitmig %s's last output:\n%s", title, err, f.Loop, f.Log.Tail(30))
	}
	return found
}

// Merge merges a pull request as a reviewer would, and, when gitmig runs as serve,
// delivers the pull_request event GitHub would send it.
func (f *Fleet) Merge(pr forge.PullRequest) forge.PullRequest {
	f.T.Helper()
	merged, err := f.Forge.Merge(context.Background(), pr.Number, "")
	if err != nil {
		f.T.Fatalf("merging #%d: %v", pr.Number, err)
	}
	// The fields of GitHub's pull_request event that serve reads.
	f.deliver("pull_request", map[string]any{"action": "closed", "pull_request": map[string]any{
		"merged": true, "head": map[string]string{"ref": pr.Head}, "base": map[string]string{"ref": f.Config.GitOps.Branch},
	}})
	return merged
}

// Pushed tells gitmig, when it runs as serve, of a push to the base branch that the
// test made, as GitHub's push event would.
func (f *Fleet) Pushed() {
	f.T.Helper()
	f.deliver("push", map[string]string{"ref": "refs/heads/" + f.Config.GitOps.Branch})
}

// webhookSecret signs the test's deliveries to serve.
const webhookSecret = "engines-test-webhook-secret"

// deliver posts a GitHub webhook event to serve, signed as GitHub signs it; it does
// nothing when gitmig runs as reconcile.
func (f *Fleet) deliver(event string, payload any) {
	f.T.Helper()
	if f.webhook == "" {
		return
	}
	body, err := json.Marshal(payload)
	if err != nil {
		f.T.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, f.webhook, bytes.NewReader(body))
	if err != nil {
		f.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	// serve answers at once; a bound keeps a hung one from holding the test.
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		f.T.Fatalf("delivering the %s event to gitmig serve: %v", event, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		f.T.Fatalf("gitmig serve answered the %s event with %s, want 202", event, resp.Status)
	}
}

// Refresh has Argo CD compare the cluster's Application with Git now, as a push
// webhook would, for a commit that gitmig's gates do not wait for (and so do not
// refresh); without it Argo CD sees the commit at its next poll, minutes away. Flux
// needs nothing: the test's Receiver reconciles its source on every push.
func (f *Fleet) Refresh(cluster string) {
	f.T.Helper()
	if f.Engine != config.EngineArgoCD {
		return
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"normal"}}}`, gate.RefreshAnnotation)
	apps := f.Env.Cluster("mgmt").Dynamic.Resource(gate.ApplicationResource).Namespace(ArgoCDNamespace)
	if _, err := apps.Patch(context.Background(), cluster, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		f.T.Fatalf("requesting a refresh of Application %s: %v", cluster, err)
	}
}

// WaitApplied waits until the engine reports the cluster applied at commit or a later
// one, and healthy, and returns when the test saw it: it watches the engine's object,
// so that it sees the status as soon as the engine writes it.
func (f *Fleet) WaitApplied(cluster, commit string) time.Time {
	f.T.Helper()
	var res schema.GroupVersionResource
	var ns string
	if f.Engine == config.EngineArgoCD {
		res, ns = gate.ApplicationResource, ArgoCDNamespace
	} else {
		res, ns = gate.KustomizationResource, FluxNamespace
	}
	client := f.Env.Cluster("mgmt").Dynamic.Resource(res).Namespace(ns)
	check := func(obj *unstructured.Unstructured) error {
		if f.Engine == config.EngineArgoCD {
			return f.argoApplied(obj, commit)
		}
		return f.fluxApplied(obj, commit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StepWait)
	defer cancel()
	// A plain watch from a get, not an informer: client-go's informers ask for
	// streamed lists, which kubeenv's etcd cannot serve, and fall back to relisting
	// late.
	var last error
	for ctx.Err() == nil {
		obj, err := client.Get(ctx, cluster, metav1.GetOptions{})
		if err != nil {
			last = err
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if last = check(obj); last == nil {
			return time.Now()
		}
		w, err := client.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", cluster).String(),
			ResourceVersion: obj.GetResourceVersion(),
		})
		if err != nil {
			last = err
			continue
		}
		for ev := range w.ResultChan() {
			if obj, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type != watch.Deleted {
				if last = check(obj); last == nil {
					w.Stop()
					return time.Now()
				}
			}
		}
		w.Stop()
	}
	f.T.Fatalf("%s applying %.7s in %s: %v (%v)", f.Engine, commit, cluster, ctx.Err(), last)
	return time.Time{}
}

func (f *Fleet) argoApplied(app *unstructured.Unstructured, commit string) error {
	revision, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
	health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
	phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
	synced, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
	if !f.descends(revision, commit) || !f.descends(synced, commit) || sync != "Synced" || health != "Healthy" || phase != "Succeeded" {
		return fmt.Errorf("Application %s at %.7s (operation %s at %.7s), %s, %s", app.GetName(), revision, phase, synced, sync, health)
	}
	return nil
}

func (f *Fleet) fluxApplied(ks *unstructured.Unstructured, commit string) error {
	applied, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
	observed, _, _ := unstructured.NestedInt64(ks.Object, "status", "observedGeneration")
	ready := "no Ready condition"
	conditions, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
	for _, c := range conditions {
		if m, _ := c.(map[string]any); m["type"] == "Ready" {
			ready = fmt.Sprintf("Ready %v %v", m["status"], m["reason"])
		}
	}
	if !f.descends(gate.RevisionSHA(applied), commit) || observed != ks.GetGeneration() || !strings.HasPrefix(ready, "Ready True") {
		return fmt.Errorf("Kustomization %s applied %s, %s", ks.GetName(), applied, ready)
	}
	return nil
}

// descends reports whether commit is ancestor or one of its descendants in the served
// repository.
func (f *Fleet) descends(commit, ancestor string) bool {
	if commit == "" {
		return false
	}
	return exec.Command("git", "-C", f.Git.Dir, "merge-base", "--is-ancestor", ancestor, commit).Run() == nil
}

// WaitForPhase waits for the one migration record on main to reach phase, and returns
// when the test first saw it.
func (f *Fleet) WaitForPhase(phase record.Phase) time.Time {
	f.T.Helper()
	return f.WaitForMigration("", phase)
}

// WaitForMigration waits for the record of migration id on main (the one record there,
// when id is empty) to reach phase, and returns when the test first saw it.
func (f *Fleet) WaitForMigration(id string, phase record.Phase) time.Time {
	f.T.Helper()
	what := "migration " + string(phase)
	if id != "" {
		what = id + " " + string(phase)
	}
	err := kubeenv.Poll(context.Background(), 100*time.Millisecond, StepWait, what, func() error {
		name := "migrations/" + id + ".yaml"
		if id == "" {
			out, err := exec.Command("git", "-C", f.Git.Dir, "ls-tree", "--name-only", "main", "migrations/").Output()
			if err != nil {
				return err
			}
			// migrations/ holds each record, <id>.yaml, beside a folder of its step files.
			var names []string
			for _, name := range strings.Fields(string(out)) {
				if strings.HasSuffix(name, ".yaml") {
					names = append(names, name)
				}
			}
			if len(names) != 1 {
				return fmt.Errorf("migration records: %q", names)
			}
			name = names[0]
		}
		data, err := exec.Command("git", "-C", f.Git.Dir, "show", "main:"+name).Output()
		if err != nil {
			return fmt.Errorf("reading %s on main: %w", name, err)
		}
		rec, err := record.Parse(data)
		if err != nil {
			return err
		}
		if rec.Status.Phase != phase {
			return fmt.Errorf("%s is %s at step %d", rec.Metadata.Name, rec.Status.Phase, rec.Status.Step)
		}
		return nil
	})
	if err != nil {
		f.T.Fatalf("%v\ngitmig %s's last output:\n%s", err, f.Loop, f.Log.Tail(30))
	}
	return time.Now()
}

// Eventually polls check every 200 ms until it returns nil or the timeout passes.
func (f *Fleet) Eventually(timeout time.Duration, check func() error) error {
	return kubeenv.Poll(context.Background(), 200*time.Millisecond, timeout, "success", check)
}

// LineLog keeps the output lines of gitmig's loop (reconcile or serve), each with the
// time it was written.
type LineLog struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []timedLine
}

type timedLine struct {
	at   time.Time
	text string
}

func (l *LineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			// An incomplete line waits for its end.
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(p), nil
		}
		l.lines = append(l.lines, timedLine{now, strings.TrimSuffix(line, "\n")})
	}
}

// Tail returns the last n lines, each with its time.
func (l *LineLog) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines[max(0, len(l.lines)-n):] {
		out = append(out, line.at.Format("15:04:05.000")+" "+line.text)
	}
	return strings.Join(out, "\n")
}

// Seen returns when gitmig's loop first printed, after since, a line holding every
// one of parts: the end of the pass that took that action. It waits a little for the
// pass to print.
func (l *LineLog) Seen(t testing.TB, since time.Time, parts ...string) time.Time {
	t.Helper()
	var at time.Time
	err := kubeenv.Poll(context.Background(), 50*time.Millisecond, time.Minute, fmt.Sprintf("line with %q", parts), func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, line := range l.lines {
			if line.at.After(since) && containsAll(line.text, parts) {
				at = line.at
				return nil
			}
		}
		return fmt.Errorf("none after %s", since.Format(time.RFC3339Nano))
	})
	if err != nil {
		t.Fatalf("gitmig's log: %v", err)
	}
	return at
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// Passes returns the durations of the passes: serve logs each one's; reconcile prints
// "Pass at" when one ends and the next starts interval later.
func (l *LineLog) Passes(interval time.Duration) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ends []time.Time
	var logged []time.Duration
	for _, line := range l.lines {
		if strings.HasPrefix(line.text, "Pass at ") {
			ends = append(ends, line.at)
		}
		if _, rest, ok := strings.Cut(line.text, " msg=pass "); ok {
			if _, v, ok := strings.Cut(rest, "duration="); ok {
				v, _, _ = strings.Cut(v, " ")
				if d, err := time.ParseDuration(v); err == nil {
					logged = append(logged, d)
				}
			}
		}
	}
	if len(logged) > 0 {
		return logged
	}
	var out []time.Duration
	for i := 1; i < len(ends); i++ {
		out = append(out, ends[i].Sub(ends[i-1])-interval)
	}
	return out
}
