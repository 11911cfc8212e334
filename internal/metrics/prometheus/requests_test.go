package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics/prometheus"
	"github.com/gitmig/gitmig/internal/metrics/prometheus/promtest"
)

// fleetOf returns a config of three clusters and n services, all running in edge, and
// their series.
func fleetOf(n int) (string, decide.Fleet, []promtest.Workload) {
	var cfg strings.Builder
	cfg.WriteString(`apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: edge, tier: edge, capacity: {cpu: "64", memory: 256Gi}, ingress: {dnsName: e.test, entryPoints: {web: 80}}}
  - {name: fog, tier: fog, capacity: {cpu: "64", memory: 256Gi}, ingress: {dnsName: f.test, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, capacity: {cpu: "640", memory: 2560Gi}, ingress: {dnsName: c.test, entryPoints: {web: 80}}}
services:
`)
	fleet := decide.Fleet{Running: map[string][]string{}, Ports: map[string][]decide.Port{}}
	var workloads []promtest.Workload
	for _, cluster := range []string{"edge", "fog", "cloud"} {
		workloads = append(workloads, promtest.Workload{Cluster: cluster, Namespace: "kube-system", Name: "coredns", CPU: promtest.Constant(0.1), Memory: promtest.Constant(gi), CPURequest: 0.1, MemoryRequest: gi})
	}
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		fmt.Fprintf(&cfg, "  - {name: %s, namespace: apps, base: base/%s}\n", name, name)
		fleet.Running[name] = []string{"edge"}
		fleet.Ports[name] = []decide.Port{{Name: "http", Port: 80}}
		// 60 of edge's 64 cores in all, whatever n: edge is overloaded.
		workloads = append(workloads, promtest.Workload{Cluster: "edge", Namespace: "apps", Name: name, Pods: 2,
			CPU: promtest.Constant(60 / float64(n)), Memory: promtest.Constant(gi), CPURequest: 0.1, MemoryRequest: gi})
	}
	cfg.WriteString("gitops: {remote: /tmp/fleet.git}\n")
	return cfg.String(), fleet, workloads
}

// TestRequestsPerPlanDoNotGrowWithServices counts the HTTP requests that reach a real
// Prometheus, through a counting proxy, while planning a fleet of 3 services and one
// of 300.
func TestRequestsPerPlanDoNotGrowWithServices(t *testing.T) {
	promtest.Require(t)
	at := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	// The series of 300 services; the small fleet's gitmig.yaml names only 3 of them.
	_, _, workloads := fleetOf(300)
	srv := promtest.Start(t, promtest.OpenMetrics(promtest.KubernetesSeries(workloads, nil, at.Add(-20*time.Minute), at, 30*time.Second)))

	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var count atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)

	requestsFor := func(n int) (int64, decide.Plan) {
		doc, fleet, _ := fleetOf(n)

		cfg := parseConfig(t, doc)
		src, err := prometheus.NewSource(cfg, prometheus.Options{URL: counting.URL})
		if err != nil {
			t.Fatal(err)
		}
		before := count.Load()
		snap, err := src.Snapshot(context.Background(), at)
		if err != nil {
			t.Fatal(err)
		}
		return count.Load() - before, decide.NewPlan(decide.Input{Config: cfg, Fleet: fleet, Metrics: snap})
	}
	few, smallPlan := requestsFor(3)
	many, largePlan := requestsFor(300)
	if few != many {
		t.Errorf("%d requests for 3 services, %d for 300: the count must not depend on the number of services", few, many)
	}
	if few != 6 {
		t.Errorf("%d requests per plan, want 6: sustained, usage and requests of cpu and memory (capacities are configured)", few)
	}
	// Both plans saw real data: edge is overloaded and something moves.
	for _, p := range []decide.Plan{smallPlan, largePlan} {
		if len(p.Decisions) == 0 {
			t.Errorf("no decision from %d services' metrics; clusters: %+v", len(p.Skipped), p.Clusters)
		}
	}
}
