package root

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/cmdutil"
)

// exampleRepo copies the example fleet at the module root into a temporary work tree.
func exampleRepo(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, top := range []string{"gitmig.yaml", "base", "clusters"} {
		err := filepath.WalkDir(filepath.Join(src, top), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// gitmig runs a command line and returns its exit code, stdout and stderr.
func gitmig(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmdutil.Main(Run, args, cmdutil.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestStepsOneToFourKeepVerifyPassing(t *testing.T) {
	repo := exampleRepo(t)
	if code, out, errOut := gitmig(t, "verify", "--repo", repo); code != 0 {
		t.Fatalf("verify before: exit %d\n%s%s", code, out, errOut)
	}
	wantFiles := map[string][]string{
		"1": {"A clusters/cloud/gitmig/namespace-orc8r-ns.yaml", "M clusters/cloud/kustomization.yaml"},
		"2": {"A clusters/cloud/gitmig/ingressroute-orc8r.yaml", "M clusters/cloud/kustomization.yaml"},
		"3": {"A clusters/edge/gitmig/flip-orc8r.yaml", "M clusters/edge/kustomization.yaml"},
		"4": {"A clusters/edge/gitmig/externalname-orc8r.yaml", "D clusters/edge/gitmig/flip-orc8r.yaml", "M clusters/edge/kustomization.yaml"},
	}
	for _, n := range []string{"1", "2", "3", "4"} {
		code, out, errOut := gitmig(t, "step", "--repo", repo, "--service", "orc8r", "--from", "edge", "--to", "cloud", "--step", n, "--id", "orc8r-edge-to-cloud-20261127-0900")
		if code != 0 {
			t.Fatalf("step %s: exit %d: %s", n, code, errOut)
		}
		for _, line := range wantFiles[n] {
			if !strings.Contains(out, "  "+line+"\n") {
				t.Errorf("step %s: output lacks %q:\n%s", n, line, out)
			}
		}
		for _, cluster := range []string{"edge", "fog", "cloud"} {
			if code, _, errOut := gitmig(t, "build", "--repo", repo, cluster); code != 0 {
				t.Fatalf("after step %s, build %s: %s", n, cluster, errOut)
			}
		}
		if code, out, errOut := gitmig(t, "verify", "--repo", repo); code != 0 {
			t.Fatalf("verify after step %s: exit %d\n%s%s", n, code, out, errOut)
		}
	}
	_, edge, _ := gitmig(t, "build", "--repo", repo, "edge")
	if strings.Contains(edge, "kind: Deployment\nmetadata:\n  labels:\n    app.kubernetes.io/name: orc8r") {
		t.Errorf("edge still deploys orc8r after step 4:\n%s", edge)
	}
	if !strings.Contains(edge, "externalName: cloud.testnetwork.internal") {
		t.Errorf("edge's orc8r Service is not an ExternalName to cloud:\n%s", edge)
	}
	code, _, errOut := gitmig(t, "step", "--repo", repo, "--service", "orc8r", "--from", "edge", "--to", "cloud", "--step", "4")
	if code == 0 || !strings.Contains(errOut, "step 4-cleanup") || !strings.Contains(errOut, "step 4 is done") {
		t.Errorf("step 4 twice: want a refusal naming what it found, got exit %d: %s", code, errOut)
	}
}

func TestVerifyExitsOneAndNamesTheService(t *testing.T) {
	repo := exampleRepo(t)
	// The flip without the route: edge sends orc8r's clients to a cloud that has nothing.
	code, _, errOut := gitmig(t, "step", "--repo", repo, "--service", "orc8r", "--from", "edge", "--to", "cloud", "--step", "3")
	if code == 0 || !strings.Contains(errOut, "expects cloud to route orc8r (step 2)") {
		t.Fatalf("step 3 first: want a refusal, got exit %d: %s", code, errOut)
	}
	kust := filepath.Join(repo, "clusters/edge/kustomization.yaml")
	if err := os.WriteFile(kust, []byte("resources: [namespaces.yaml, ../../base/agw, orc8r.yaml]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stub := "apiVersion: v1\nkind: Service\nmetadata: {name: orc8r, namespace: orc8r-ns}\nspec: {type: ExternalName, externalName: cloud.testnetwork.internal}\n"
	if err := os.WriteFile(filepath.Join(repo, "clusters/edge/orc8r.yaml"), []byte(stub), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := gitmig(t, "verify", "--repo", repo)
	if code != 1 {
		t.Fatalf("verify: exit %d, want 1\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "service orc8r, cluster edge: ") || !strings.Contains(out, "no traefik.io route in cloud") {
		t.Errorf("verify output does not name the service, the cluster and the missing route:\n%s", out)
	}
	if !strings.Contains(errOut, "problem(s) found") {
		t.Errorf("stderr lacks the summary: %q", errOut)
	}
	code, out, _ = gitmig(t, "verify", "--repo", repo, "-o", "json")
	if code != 1 || !strings.Contains(out, `"service": "orc8r"`) {
		t.Errorf("verify -o json: exit %d\n%s", code, out)
	}
}

func TestMigrateDryRunTouchesNothing(t *testing.T) {
	repo := exampleRepo(t)
	before, err := os.ReadFile(filepath.Join(repo, "clusters/cloud/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := gitmig(t, "migrate", "orc8r", "--to", "cloud", "--dry-run", "--repo", repo)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"== Step 1/4 deploy: cluster cloud ==",
		"  added   Deployment.apps/orc8r-ns/orc8r",
		"== Step 2/4 route: cluster cloud ==",
		"  added   IngressRouteTCP.traefik.io/orc8r-ns/orc8r-controller",
		"  added   IngressRoute.traefik.io/orc8r-ns/orc8r-rpc",
		"== Step 3/4 flip: cluster edge ==",
		"+  type: ExternalName",
		"== Step 4/4 cleanup: cluster edge ==",
		"  removed Deployment.apps/orc8r-ns/orc8r",
		"After step 4: orc8r runs in cloud; verify: every service reachable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q", want)
		}
	}
	after, _ := os.ReadFile(filepath.Join(repo, "clusters/cloud/kustomization.yaml"))
	if !bytes.Equal(before, after) {
		t.Error("dry run changed the work tree")
	}
	// The example's forge is GitHub: without the token a real migration cannot start.
	t.Setenv("GITMIG_GITHUB_TOKEN", "")
	if code, _, errOut := gitmig(t, "migrate", "orc8r", "--to", "cloud", "--repo", repo); code == 0 || !strings.Contains(errOut, "set the environment variable GITMIG_GITHUB_TOKEN") {
		t.Errorf("migrate without --dry-run or token: exit %d: %s", code, errOut)
	}
}

func TestBadConfigNamesFileAndField(t *testing.T) {
	repo := exampleRepo(t)
	cfg := filepath.Join(repo, "gitmig.yaml")
	data, _ := os.ReadFile(cfg)
	broken := strings.Replace(string(data), "target: {cpu: 0.70", "target: {cpu: 0.90", 1)
	if err := os.WriteFile(cfg, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := gitmig(t, "verify", "--repo", repo)
	if code == 0 || !strings.Contains(errOut, cfg) || !strings.Contains(errOut, "policy.target.cpu") {
		t.Errorf("want an error naming %s and policy.target.cpu, got exit %d: %s", cfg, code, errOut)
	}
}

func TestDemoRunsTheWholeMigrationAndLeavesAReadableRepository(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := gitmig(t, "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"Before: edge: runs orc8r, agw | fog: runs nothing | cloud: runs nothing",
		"Decision: move orc8r from edge to cloud",
		"opened a pull request: gitmig: move orc8r edge→cloud [1/4 deploy]",
		"opened a pull request: gitmig: move orc8r edge→cloud [2/4 route]",
		"opened a pull request: gitmig: move orc8r edge→cloud [3/4 flip]",
		"opened a pull request: gitmig: move orc8r edge→cloud [4/4 cleanup]",
		"    A clusters/cloud/gitmig/ingressroute-orc8r.yaml",
		"The simulated clock moves on by policy.drain (5m0s)",
		"is Completed after 4 pull requests",
		"After: edge: runs agw; ExternalName orc8r→cloud | fog: runs nothing | cloud: runs orc8r",
		filepath.Join(dir, "fleet.git"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("demo output:\n%s", out)
	}
	remote := filepath.Join(dir, "fleet.git")
	if out, err := exec.Command("git", "-C", remote, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck --strict: %v\n%s", err, out)
	}
	clone := filepath.Join(t.TempDir(), "fleet")
	if out, err := exec.Command("git", "clone", "-q", remote, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	code, out, errOut = gitmig(t, "status", "--repo", clone, "-o", "json")
	if code != 0 {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var status struct {
		Migrations []struct {
			ID, Service, From, To, Status, WaitingFor string
			Step                                      int
		}
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if len(status.Migrations) != 1 {
		t.Fatalf("status: %+v", status)
	}
	m := status.Migrations[0]
	if m.Service != "orc8r" || m.From != "edge" || m.To != "cloud" || m.Step != 4 || m.Status != "Completed" || m.WaitingFor != "" || !strings.HasPrefix(m.ID, "orc8r-edge-to-cloud-") {
		t.Errorf("status: %+v", m)
	}
	code, out, errOut = gitmig(t, "pr", "list", "--repo", clone, "-o", "json")
	if code != 0 {
		t.Fatalf("pr list: exit %d: %s", code, errOut)
	}
	var prs []struct {
		Number                  int
		Title, Head, State, URL string
	}
	if err := json.Unmarshal([]byte(out), &prs); err != nil {
		t.Fatalf("pr list -o json: %v\n%s", err, out)
	}
	if len(prs) != 4 {
		t.Fatalf("pr list: %+v", prs)
	}
	for i, pr := range prs {
		if pr.Number != i+1 || pr.State != "merged" || !strings.Contains(pr.Title, fmt.Sprintf("[%d/4 ", i+1)) || !strings.HasPrefix(pr.Head, "gitmig/"+m.ID+"/") || pr.URL == "" {
			t.Errorf("pull request %d: %+v", i+1, pr)
		}
	}
}

func TestPlanReadsTheMigrationRecords(t *testing.T) {
	repo := exampleRepo(t)
	metrics, err := filepath.Abs("../../../examples/metrics/edge-overloaded.yaml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := gitmig(t, "plan", "--repo", repo, "--metrics", metrics, "-o", "json")
	if code != 0 || !strings.Contains(out, `"to": "cloud"`) {
		t.Fatalf("plan without records: exit %d %s\n%s", code, errOut, out)
	}
	rec := `apiVersion: gitmig.dev/v1alpha1
kind: Migration
metadata: {name: orc8r-edge-to-cloud-20260504-0850}
spec: {service: orc8r, namespace: orc8r-ns, from: edge, to: cloud, decidedAt: "2026-05-04T08:50:00Z", decidedBy: gitmig plan, reason: r}
status: {phase: InProgress, step: 1}
`
	if err := os.MkdirAll(filepath.Join(repo, "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "migrations", "orc8r-edge-to-cloud-20260504-0850.yaml"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = gitmig(t, "plan", "--repo", repo, "--metrics", metrics, "-o", "json")
	if code != 0 || strings.Contains(out, `"to": "cloud"`) || !strings.Contains(out, "already migrating edge→cloud (step 1 of 4)") {
		t.Fatalf("plan with orc8r in flight: exit %d %s\n%s", code, errOut, out)
	}
}
