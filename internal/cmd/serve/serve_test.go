package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/example"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/server"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/testenv/gittest"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

const webhookSecret = "a webhook secret for the test"

// syncBuffer is a log two goroutines write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fleet is the example fleet on the local forge with engine none, in a work tree
// beside its bare remote, with the route's and the flip's holds at zero so that each
// step's gate passes on its merge.
func fleet(t *testing.T) (repo, remote, metricsFile string, at time.Time) {
	t.Helper()
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
	clone := filepath.Join(root, "clone")
	gittest.Run(t, root, "clone", "-q", remote, clone)
	path := filepath.Join(clone, "gitmig.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), "  drain: 5m\n", "  drain: 0s\n  routeSettle: 0s\n", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Run(t, clone, "commit", "-qam", "gitmig.yaml: hold no step")
	gittest.Run(t, clone, "push", "-q", "origin", "HEAD:main")
	metricsFile = filepath.Join(root, "metrics.yaml")
	if err := os.WriteFile(metricsFile, gitmig.ExampleMetrics, 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, remote, metricsFile, snap.EvaluatedAt
}

// replica is one `gitmig serve --leader-elect` in this process.
type replica struct {
	name string
	addr string
	log  *syncBuffer
	stop context.CancelFunc
	done chan error
}

func startReplica(t *testing.T, name, repo, metricsFile, kubeconfig string, at time.Time) *replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, addr: "http://" + ln.Addr().String(), log: &syncBuffer{}, done: make(chan error, 1)}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	opts := &Options{
		Globals:  &cmdutil.Globals{Repo: repo},
		Streams:  cmdutil.Streams{Out: r.log, Err: r.log},
		Metrics:  cmdutil.MetricsFlags{Metrics: metricsFile},
		Listener: ln,
		// No timer: every pass after the first is the webhook's or the election's.
		Interval:       24 * time.Hour,
		LogFormat:      "json",
		LeaderElect:    true,
		LeaseNamespace: "default",
		LeaseName:      "gitmig",
		Kubeconfig:     kubeconfig,
		Identity:       name,
		LeaseDuration:  4 * time.Second,
		RenewDeadline:  2 * time.Second,
		RetryPeriod:    500 * time.Millisecond,
		// A killed replica does not give the Lease up: the other waits for it to expire.
		KeepLeaseOnExit: true,
		Env: func(k string) string {
			if k == server.WebhookSecretEnv {
				return webhookSecret
			}
			return ""
		},
		Now: func() time.Time { return at },
	}
	go func() { r.done <- Run(ctx, opts) }()
	t.Cleanup(func() { r.kill(t) })
	return r
}

// kill ends the replica as SIGKILL would, as far as the others can tell: its Lease
// stays held until it expires.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case <-r.done:
		r.done <- nil
	case <-time.After(2 * time.Minute):
		t.Errorf("replica %s did not stop", r.name)
	}
}

func (r *replica) status(t *testing.T, path string) int {
	t.Helper()
	resp, err := http.Get(r.addr + path)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func (r *replica) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(r.addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}

// push tells the replica, as GitHub would, that the base branch moved.
func (r *replica) push(t *testing.T) int {
	t.Helper()
	body := `{"ref": "refs/heads/main", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "repository": {"full_name": "example/fleet"}}`
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write([]byte(body))
	req, err := http.NewRequest(http.MethodPost, r.addr+"/webhooks/github", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond, within a bound.
func eventually(t *testing.T, what string, cond func() bool, logs ...*replica) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, r := range logs {
				fmt.Fprintf(&b, "--- replica %s:\n%s\n", r.name, r.log.String())
			}
			t.Fatalf("%s: not within the bound\n%s", what, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two replicas share one Lease on a real kube-apiserver: only the leader acts, and
// the other refuses webhooks. Killed mid-migration, holding the Lease, the leader is replaced once the
// Lease expires, and the survivor finishes the migration: each step's pull request
// opened once, none twice.
func TestLeaderKilledMidMigrationSurvivorFinishes(t *testing.T) {
	env := kubeenv.Start(t, "mgmt")
	kubeconfig := env.Cluster("mgmt").Kubeconfig
	repo, remote, metricsFile, at := fleet(t)
	f, err := local.New(local.Options{Remote: remote, Base: "main", Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	prs := func() []forge.PullRequest {
		list, err := f.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	has := func(n int, state forge.State) func() bool {
		return func() bool {
			for _, pr := range prs() {
				if pr.Number == n && pr.State == state {
					return true
				}
			}
			return false
		}
	}
	merge := func(n int) {
		t.Helper()
		if _, err := f.Merge(context.Background(), n, ""); err != nil {
			t.Fatal(err)
		}
	}

	a := startReplica(t, "a", repo, metricsFile, kubeconfig, at)
	eventually(t, "a leads and is ready", func() bool {
		return strings.Contains(a.get(t, "/metrics"), "\ngitmig_leader 1\n") && a.status(t, "/readyz") == http.StatusOK
	}, a)
	b := startReplica(t, "b", repo, metricsFile, kubeconfig, at)
	eventually(t, "b serves", func() bool { return b.status(t, "/healthz") == http.StatusOK }, b)
	if got := b.status(t, "/readyz"); got != http.StatusOK {
		t.Errorf("b, standing by, answers /readyz with %d", got)
	}
	if got := b.push(t); got != http.StatusServiceUnavailable {
		t.Errorf("b, standing by, answers a webhook with %d", got)
	}
	eventually(t, "a's first pass opens step 1", has(1, forge.StateOpen), a, b)
	eventually(t, "a logs the pull request it opened", func() bool {
		return strings.Contains(a.log.String(), `"msg":"action","kind":"create-pr"`) && strings.Contains(a.log.String(), `[1/4 deploy]"`)
	}, a)

	merge(1)
	if got := a.push(t); got != http.StatusAccepted {
		t.Fatalf("a answers the webhook with %d", got)
	}
	eventually(t, "a opens step 2 on the webhook", has(2, forge.StateOpen), a, b)

	a.kill(t)
	merge(2)
	eventually(t, "b takes over and opens step 3", has(3, forge.StateOpen), a, b)
	if !strings.Contains(b.get(t, "/metrics"), "\ngitmig_leader 1\n") {
		t.Error("b opened step 3 without leading")
	}
	if got := b.status(t, "/readyz"); got != http.StatusOK {
		t.Errorf("b, leading, answers /readyz with %d", got)
	}
	merge(3)
	if got := b.push(t); got != http.StatusAccepted {
		t.Fatalf("b answers the webhook with %d", got)
	}
	eventually(t, "b opens step 4", has(4, forge.StateOpen), a, b)
	merge(4)
	if got := b.push(t); got != http.StatusAccepted {
		t.Fatalf("b answers the webhook with %d", got)
	}
	eventually(t, "b completes the migration", func() bool { return strings.Contains(b.get(t, "/metrics"), `gitmig_migrations{status="Completed"} 1`) }, a, b)

	heads := map[string]int{}
	for _, pr := range prs() {
		heads[pr.Head]++
		if pr.State != forge.StateMerged {
			t.Errorf("pull request #%d %s is %s", pr.Number, pr.Head, pr.State)
		}
	}
	if len(heads) != 4 || len(prs()) != 4 {
		t.Errorf("pull requests on %v, want the four steps once each", heads)
	}

	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	lease, err := client.CoordinationV1().Leases("default").Get(context.Background(), "gitmig", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if holder := lease.Spec.HolderIdentity; holder == nil || *holder != "b" {
		t.Errorf("the Lease is held by %v, want b", holder)
	}
}
