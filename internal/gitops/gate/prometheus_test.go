package gate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics/prometheus"
	"github.com/gitmig/gitmig/internal/metrics/prometheus/promtest"
)

// at is the evaluation time; the backfilled series end there, hours in the past so the
// server keeps the blocks.
var at = time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)

func gauge(name string, labels map[string]string, v float64) promtest.Family {
	var samples []promtest.Sample
	for t := at.Add(-20 * time.Minute); !t.After(at); t = t.Add(30 * time.Second) {
		samples = append(samples, promtest.Sample{Time: t, Value: v})
	}
	return promtest.Family{Name: name, Type: "gauge", Series: []promtest.Series{{Labels: labels, Samples: samples}}}
}

// requests is Traefik's counter for orc8r on edge: 10 requests a second until
// busyUntil, then none.
func requests(busyUntil time.Time) promtest.Family {
	var samples []promtest.Sample
	total := 0.0
	for t := at.Add(-30 * time.Minute); !t.After(at); t = t.Add(15 * time.Second) {
		if t.Before(busyUntil) {
			total += 150
		}
		samples = append(samples, promtest.Sample{Time: t, Value: total})
	}
	labels := map[string]string{"cluster": "edge", "service": "orc8r-ns-orc8r-8443@kubernetes"}
	return promtest.Family{Name: "traefik_service_requests_total", Type: "counter", Series: []promtest.Series{{Labels: labels, Samples: samples}}}
}

func startPrometheus(t *testing.T, families ...promtest.Family) (*prometheus.Source, *config.Config) {
	t.Helper()
	srv := promtest.Start(t, promtest.OpenMetrics(families))
	cfg := &config.Config{Policy: config.DefaultPolicy()}
	cfg.Policy.Prometheus.URL = srv.URL
	cfg.Policy.Prometheus.ClusterLabel = "cluster"
	cfg.Policy.Queries.Default("cluster")
	cfg.Policy.Queries.RequestRate = `sum(rate(traefik_service_requests_total{cluster="{{.Cluster}}", service=~"{{.Namespace}}-{{.Service}}-.*"}[1m]))`
	src, err := prometheus.NewSource(cfg, prometheus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return src, cfg
}

func TestPrometheusWorkloadsAgainstARealPrometheus(t *testing.T) {
	deployment := func(cluster string) map[string]string {
		return map[string]string{"cluster": cluster, "namespace": "orc8r-ns", "deployment": "orc8r"}
	}
	src, cfg := startPrometheus(t,
		gauge("kube_deployment_spec_replicas", deployment("cloud"), 2),
		gauge("kube_deployment_status_replicas_available", deployment("cloud"), 1),
		gauge("kube_deployment_spec_replicas", deployment("fog"), 2),
		gauge("kube_deployment_status_replicas_available", deployment("fog"), 2),
		gauge("kube_deployment_status_replicas_available", deployment("edge"), 2),
	)
	g := PrometheusWorkloads{Metrics: src, Clusters: map[string]bool{"cloud": true, "fog": true, "edge": true, "gone": true}, Queries: cfg.Policy.Queries}
	for _, tt := range []struct {
		step    int
		cluster string
		verdict Verdict
		reason  string
	}{
		{1, "cloud", Wait, "1 of 2 replicas available (kube-state-metrics)"},
		{1, "fog", Pass, "available in fog (2/2, kube-state-metrics)"},
		{1, "gone", Wait, "kube-state-metrics reports no Deployment orc8r-ns/orc8r in gone yet"},
		{4, "edge", Wait, "2 replicas of orc8r still available in edge"},
		{4, "gone", Pass, "no replica of orc8r left in gone"},
	} {
		req := request(tt.step)
		req.Cluster, req.Now = tt.cluster, at
		res, err := g.Check(context.Background(), req)
		if err != nil || res.Verdict != tt.verdict || !strings.Contains(res.Reason, tt.reason) {
			t.Errorf("step %d in %s: got %s %q (%v); want %s %q", tt.step, tt.cluster, res.Verdict, res.Reason, err, tt.verdict, tt.reason)
		}
	}
}

func TestDrainWaitsForTheSourceToGoIdle(t *testing.T) {
	src, cfg := startPrometheus(t, requests(at.Add(-5*time.Minute)))
	d := Hold{
		Inner: fixed{Verdict: Pass, Reason: "applied", AppliedAt: at.Add(-20 * time.Minute)},
		Drain: 5 * time.Minute,
		Idle:  &Idle{Metrics: src, Query: cfg.Policy.Queries.RequestRate, Threshold: 0.1, Step: time.Minute},
	}
	req := request(3)
	req.Now = at.Add(-6 * time.Minute)
	res, err := d.Check(context.Background(), req)
	if err != nil || res.Verdict != Wait || !strings.Contains(res.Reason, "edge still serves orc8r") {
		t.Fatalf("while busy: %s %q %v", res.Verdict, res.Reason, err)
	}
	req.Now = at
	res, err = d.Check(context.Background(), req)
	if err != nil || res.Verdict != Pass || !strings.Contains(res.Reason, "orc8r idle in edge (0, 0, 0 req/s)") {
		t.Fatalf("once idle: %s %q %v", res.Verdict, res.Reason, err)
	}
	// No series at all is not idleness.
	d.Idle.Query = `sum(rate(traefik_service_requests_total{cluster="nowhere"}[1m]))`
	res, _ = d.Check(context.Background(), req)
	if res.Verdict != Wait || !strings.Contains(res.Reason, "request rate of orc8r in edge unknown") {
		t.Fatalf("without data: %s %q", res.Verdict, res.Reason)
	}
}
