package plan_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/cmd/root"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/metrics/prometheus/promtest"
)

// repoRoot is the example fleet: gitmig.yaml, base/ and clusters/ at the top of the
// module.
const repoRoot = "../../.."

const gi = float64(1 << 30)

// scenario says how busy edge is over the half hour before the evaluation time.
type scenario int

const (
	// overloaded: 7.1 of edge's 8 cores for the whole window.
	overloaded scenario = iota
	// spike: 4.3 cores, and 7.5 during the last four minutes only.
	spike
	// noEdgeData: edge reports nothing at all.
	noEdgeData
)

// exampleSeries writes the example fleet's cAdvisor and kube-state-metrics series
// from at-30m to at, every 15s.
func exampleSeries(s scenario, at time.Time) []byte {
	edgeCPU := func(busy, calm float64) func(time.Time) float64 {
		switch s {
		case spike:
			return func(t time.Time) float64 {
				if t.After(at.Add(-4 * time.Minute)) {
					return busy
				}
				return calm
			}
		}
		return promtest.Constant(busy)
	}
	workloads := []promtest.Workload{
		{Cluster: "edge", Namespace: "orc8r-ns", Name: "orc8r", Pods: 2, CPU: edgeCPU(3.2, 1.6), Memory: promtest.Constant(3 * gi), CPURequest: 3, MemoryRequest: 4 * gi},
		{Cluster: "edge", Namespace: "agw-ns", Name: "agw", CPU: edgeCPU(4.0, 2.4), Memory: promtest.Constant(4 * gi), CPURequest: 2, MemoryRequest: 4 * gi},
		{Cluster: "edge", Namespace: "kube-system", Name: "coredns", CPU: promtest.Constant(0.3), Memory: promtest.Constant(0.75 * gi), CPURequest: 0.2, MemoryRequest: 0.25 * gi},
		{Cluster: "fog", Namespace: "kube-system", Name: "coredns", CPU: promtest.Constant(0.4), Memory: promtest.Constant(0.8 * gi), CPURequest: 0.3, MemoryRequest: 0.5 * gi},
		{Cluster: "cloud", Namespace: "kube-system", Name: "coredns", Pods: 3, CPU: promtest.Constant(4), Memory: promtest.Constant(41 * gi), CPURequest: 6, MemoryRequest: 48 * gi},
	}
	if s == overloaded {
		// 3.2 + 3.6 + 0.3 = 7.1 cores.
		workloads[1].CPU = promtest.Constant(3.6)
	}
	nodes := []promtest.Node{
		{Cluster: "edge", Name: "edge-1", CPU: 8, Memory: 16 * gi},
		{Cluster: "fog", Name: "fog-1", CPU: 4, Memory: 8 * gi},
		{Cluster: "cloud", Name: "cloud-1", CPU: 32, Memory: 128 * gi},
		{Cluster: "cloud", Name: "cloud-2", CPU: 32, Memory: 128 * gi},
	}
	if s == noEdgeData {
		var kept []promtest.Workload
		for _, w := range workloads {
			if w.Cluster != "edge" {
				kept = append(kept, w)
			}
		}
		workloads, nodes = kept, nodes[1:]
	}
	return promtest.OpenMetrics(promtest.KubernetesSeries(workloads, nodes, at.Add(-30*time.Minute), at, 15*time.Second))
}

// backfillTime is a few hours ago, on a minute: old enough that the series sit in
// backfilled blocks, recent enough that no retention applies.
func backfillTime() time.Time {
	return time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
}

// run runs a gitmig command line and returns its exit code, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmdutil.Main(root.Run, args, cmdutil.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func planJSON(t *testing.T, args ...string) decide.Plan {
	t.Helper()
	code, out, errOut := run(t, append([]string{"--repo", repoRoot, "plan", "-o", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("gitmig plan exited %d: %s", code, errOut)
	}
	var p decide.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan output is not JSON: %v\n%s", err, out)
	}
	return p
}

func moves(p decide.Plan) string {
	var m []string
	for _, d := range p.Decisions {
		m = append(m, d.Service+" "+d.From+"→"+d.To)
	}
	return strings.Join(m, ", ")
}

func state(t *testing.T, p decide.Plan, cluster string) decide.ClusterStatus {
	t.Helper()
	for _, c := range p.Clusters {
		if c.Name == cluster {
			return c
		}
	}
	t.Fatalf("no cluster %s in %+v", cluster, p.Clusters)
	return decide.ClusterStatus{}
}

func TestPlanAgainstARealPrometheus(t *testing.T) {
	promtest.Require(t)
	at := backfillTime()
	atFlag := at.Format(time.RFC3339)

	t.Run("edge overloaded for the whole window", func(t *testing.T) {
		srv := promtest.Start(t, exampleSeries(overloaded, at))
		saved := filepath.Join(t.TempDir(), "metrics.yaml")
		p := planJSON(t, "--prometheus", srv.URL, "--time", atFlag, "--save-metrics", saved)
		if got := moves(p); got != "orc8r edge→cloud" {
			t.Fatalf("moves = %q, want orc8r edge→cloud\n%+v\nprometheus log:\n%s", got, p, srv.Log())
		}
		edge := state(t, p, "edge")
		if edge.State != decide.StateOverloaded || edge.CPU.Utilization < 0.88 || edge.CPU.Utilization > 0.89 {
			t.Errorf("edge = %+v, want Overloaded at 7.1/8", edge)
		}
		if !p.EvaluatedAt.Equal(at) {
			t.Errorf("evaluatedAt = %s, want %s", p.EvaluatedAt, at)
		}

		// The saved metrics replay to the same plan, offline.
		snap, err := metrics.LoadSnapshot(saved)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Queries) != 6 || snap.Source != srv.URL {
			t.Errorf("saved snapshot: %d queries from %q, want the 6 queries from %s", len(snap.Queries), snap.Source, srv.URL)
		}
		_, live, _ := run(t, "--repo", repoRoot, "plan", "-o", "json", "--prometheus", srv.URL, "--time", atFlag)
		code, replayed, errOut := run(t, "--repo", repoRoot, "plan", "-o", "json", "--metrics", saved)
		if code != 0 || replayed != live {
			t.Errorf("replaying %s: exit %d %s\n%s\nwant the live plan\n%s", saved, code, errOut, replayed, live)
		}

		// Without capacities in gitmig.yaml they come from kube_node_status_allocatable.
		cfg, err := os.ReadFile(filepath.Join(repoRoot, "gitmig.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var kept []string
		for _, line := range strings.Split(string(cfg), "\n") {
			if !strings.Contains(line, "capacity:") {
				kept = append(kept, line)
			}
		}
		noCapacity := filepath.Join(t.TempDir(), "gitmig.yaml")
		if err := os.WriteFile(noCapacity, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		p = planJSON(t, "--config", noCapacity, "--prometheus", srv.URL, "--time", atFlag)
		if got := moves(p); got != "orc8r edge→cloud" {
			t.Errorf("with capacities from Prometheus: moves = %q, want orc8r edge→cloud", got)
		}
		if cloud := state(t, p, "cloud"); cloud.CPU.Capacity != 64 || cloud.Memory.Capacity != 256*gi {
			t.Errorf("cloud capacity = %v cores, %v bytes, want the two nodes' 64 and 256Gi", cloud.CPU.Capacity, cloud.Memory.Capacity)
		}

		// A query Prometheus rejects is a configuration error that names it.
		broken := filepath.Join(t.TempDir(), "gitmig.yaml")
		withQuery := strings.Replace(string(cfg), "\npolicy:\n", "\npolicy:\n  queries: {cpuRequests: \"sum by (cluster) (kube_pod_container_resource_requests\"}\n", 1)
		if withQuery == string(cfg) {
			t.Fatal("gitmig.yaml has no policy section to add a query to")
		}
		if err := os.WriteFile(broken, []byte(withQuery), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run(t, "--repo", repoRoot, "--config", broken, "plan", "--prometheus", srv.URL, "--time", atFlag)
		if code == 0 || out != "" || !strings.Contains(errOut, "query cpuRequests (policy.queries.cpuRequests): Prometheus at "+srv.URL+" rejected it (bad_data)") {
			t.Errorf("a broken query: exit %d, stdout %q, stderr %q; want an error naming policy.queries.cpuRequests", code, out, errOut)
		}
	})

	t.Run("a four-minute spike", func(t *testing.T) {
		srv := promtest.Start(t, exampleSeries(spike, at))
		p := planJSON(t, "--prometheus", srv.URL, "--time", atFlag)
		if got := moves(p); got != "" {
			t.Fatalf("moves = %q, want none for a spike", got)
		}
		edge := state(t, p, "edge")
		if edge.State != decide.StateOK || edge.CPU.Utilization > 0.6 {
			t.Errorf("edge = %+v, want OK at the 4.3 cores it sustained", edge)
		}
		// The spike is real: the instant usage is over the threshold.
		saved := filepath.Join(t.TempDir(), "metrics.yaml")
		planJSON(t, "--prometheus", srv.URL, "--time", atFlag, "--save-metrics", saved)
		snap, err := metrics.LoadSnapshot(saved)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range snap.Clusters {
			if c.Name == "edge" && c.CPU.Used/c.CPU.Capacity <= 0.8 {
				t.Errorf("edge instant usage %v/%v, want the spike above 0.80", c.CPU.Used, c.CPU.Capacity)
			}
		}
	})

	t.Run("no data for edge", func(t *testing.T) {
		srv := promtest.Start(t, exampleSeries(noEdgeData, at))
		p := planJSON(t, "--prometheus", srv.URL, "--time", atFlag)
		if got := moves(p); got != "" {
			t.Fatalf("moves = %q, want none", got)
		}
		edge := state(t, p, "edge")
		if edge.State != metrics.StateUnknown || !strings.Contains(edge.Why, `no cpu usage series with cluster="edge"`) {
			t.Errorf("edge = %+v, want Unknown for lack of series", edge)
		}
		for _, c := range []string{"fog", "cloud"} {
			if s := state(t, p, c); s.State != decide.StateOK {
				t.Errorf("%s = %+v, want OK", c, s)
			}
		}
	})
}

func TestPlanWithPrometheusUnreachable(t *testing.T) {
	url := "http://" + promtest.FreeAddress(t)
	code, out, errOut := run(t, "--repo", repoRoot, "plan", "--prometheus", url)
	if code == 0 {
		t.Fatalf("plan exited 0 with Prometheus unreachable; stdout:\n%s", out)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing: errors go to stderr", out)
	}
	for _, want := range []string{"gitmig: reading metrics: query cpuSustained (policy.queries.cpuUsage): cannot reach Prometheus at " + url, "connection refused"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr = %q, want it to contain %q", errOut, want)
		}
	}
}

func TestPlanFromTheBundledSnapshot(t *testing.T) {
	for _, format := range []string{"table", "json", "markdown"} {
		t.Run(format, func(t *testing.T) {
			code, out, errOut := run(t, "--repo", repoRoot, "plan", "--metrics", filepath.Join(repoRoot, "examples/metrics/edge-overloaded.yaml"), "-o", format)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing: the snapshot fits gitmig.yaml", code, errOut)
			}
			want := map[string][]string{
				// edge sustained 6.90 cores and uses 7.10 now: each figure under its label.
				"table": {"MOVE    orc8r (orc8r-ns) edge → cloud\nREASON  edge Overloaded: sustained cpu 6.90/8.00", "\nCLIENT  agw@edge → cloud (1 hop, 20ms)\n", "CANDIDATES FOR orc8r", "STAYING",
					"NAME   STATE       SUSTAINED CPU/CAPACITY  CPU UTIL  SUSTAINED MEMORY/CAPACITY  MEMORY UTIL  WHY\n",
					"edge   Overloaded  6.90/8.00               0.86      7.50Gi/16.00Gi             0.47"},
				"json": {`"from": "edge"`, `"to": "cloud"`, `"cpu": {
        "sustained": 6.9,
        "capacity": 8,`, `"client": "agw"`, `"path": [` + "\n" + `            "edge",` + "\n" + `            "cloud"`, `"latencyMs": 20`},
				"markdown": {"**Move `orc8r` (namespace `orc8r-ns`) from `edge` to `cloud`.**", "Its clients will reach it:\n\n- agw@edge → cloud (1 hop, 20ms)\n", "| Cluster | Feasible | Score | Why |",
					"| edge | Overloaded | 6.90 / 8.00 | 0.86 |", "moving orc8r (current cpu 3.20, current memory 3.00Gi) brings it to current cpu 0.49"},
			}[format]
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.HasPrefix(out, map[string]string{"table": "MOVE", "json": "{", "markdown": "### gitmig plan"}[format]) {
				t.Errorf("the decision is not on top:\n%s", out)
			}
		})
	}
}

// TestPlanWarnsAboutNamesNotInConfig: a snapshot with a cluster gitmig.yaml lacks, its
// figures given as quantities, still plans, and the warning reaches standard error in
// every format, the JSON plan's warnings and the Markdown evidence.
func TestPlanWarnsAboutNamesNotInConfig(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(repoRoot, "examples/metrics/edge-overloaded.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	snapshot := filepath.Join(t.TempDir(), "metrics.yaml")
	extra := "  - name: mars\n    cpu: {sustained: 500m, used: 750m, requests: 1, capacity: 4}\n    memory: {sustained: 1Gi, used: 1536Mi, requests: 2Gi, capacity: 16Gi}\nworkloads:\n"
	doc := strings.Replace(string(example), "workloads:\n", extra, 1)
	if err := os.WriteFile(snapshot, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	const warning = `metrics snapshot clusters[3]: "mars" is not a cluster of gitmig.yaml; its numbers are not used`
	for _, format := range []string{"table", "json", "markdown"} {
		code, out, errOut := run(t, "--repo", repoRoot, "plan", "--metrics", snapshot, "-o", format)
		if code != 0 {
			t.Fatalf("-o %s: exit %d: %s", format, code, errOut)
		}
		if errOut != "gitmig: warning: "+warning+"\n" {
			t.Errorf("-o %s: stderr %q, want the warning alone", format, errOut)
		}
		if !strings.Contains(out, "orc8r") {
			t.Errorf("-o %s: no plan for orc8r:\n%s", format, out)
		}
		switch format {
		case "json":
			var p decide.Plan
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Warnings) != 1 || p.Warnings[0] != warning {
				t.Errorf("JSON warnings = %q, want [%q]", p.Warnings, warning)
			}
		case "markdown":
			if !strings.Contains(out, "#### Warnings\n\n- "+warning+"\n") {
				t.Errorf("the evidence lacks the warning:\n%s", out)
			}
		}
	}
}

func TestPlanFlagErrors(t *testing.T) {
	snapshot := filepath.Join(repoRoot, "examples/metrics/edge-overloaded.yaml")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--metrics", snapshot, "-o", "yaml"}, `unknown output format "yaml"`},
		{[]string{"--time", "yesterday"}, `--time "yesterday": want RFC3339`},
		{[]string{"--metrics", snapshot, "--prometheus", "http://127.0.0.1:9"}, "[metrics prometheus] were all set"},
		{[]string{"--metrics", missing}, "reading metrics: reading metrics snapshot: open " + missing},
		{[]string{"--metrics", snapshot, "--save-metrics", filepath.Join(missing, "x", "y.yaml")}, "--save-metrics " + filepath.Join(missing, "x", "y.yaml")},
	} {
		code, out, errOut := run(t, append([]string{"--repo", repoRoot, "plan"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("plan %v: exit %d, stderr %q, want non-zero and %q (stdout %q)", tc.args, code, errOut, tc.want, out)
		}
	}
}
