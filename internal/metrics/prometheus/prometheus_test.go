package prometheus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/metrics/prometheus"
	"github.com/gitmig/gitmig/internal/present"
)

// fakeConfig names its queries plainly so that the fake server can tell them apart.
const fakeConfig = `
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: edge, tier: edge, capacity: {cpu: "8", memory: 16Gi}, ingress: {dnsName: e.test, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, ingress: {dnsName: c.test, entryPoints: {web: 80}}}
services:
  - {name: orc8r, namespace: orc8r-ns, base: base/orc8r}
policy:
  prometheus: {url: "http://127.0.0.1:1", timeout: 7s}
  queries:
    cpuUsage: cpu_usage
    memoryUsage: mem_usage
    cpuRequests: cpu_requests
    memoryRequests: mem_requests
    cpuCapacity: cpu_capacity
    memoryCapacity: mem_capacity
gitops: {remote: /tmp/fleet.git}
`

type sample struct {
	labels map[string]string
	value  float64
}

// fakePrometheus answers /api/v1/query like Prometheus, from canned vectors keyed by
// the query's name.
type fakePrometheus struct {
	t *testing.T
	// answer returns the vector, the warnings and an HTTP status (0 for 200).
	answer func(name string) ([]sample, []string, int)
	// retryAfter, when set, is the Retry-After header of every failed answer.
	retryAfter string

	mu       sync.Mutex
	requests []*http.Request
	forms    []map[string]string
}

func queryName(promql string) string {
	metric := func(s string) string {
		switch {
		case strings.Contains(s, "cpu_usage"):
			return "cpu"
		case strings.Contains(s, "mem_usage"):
			return "memory"
		}
		return ""
	}
	switch {
	case strings.HasPrefix(promql, "min_over_time"):
		return metric(promql) + "Sustained"
	case promql == "cpu_usage":
		return "cpuUsage"
	case promql == "mem_usage":
		return "memoryUsage"
	case promql == "cpu_requests":
		return "cpuRequests"
	case promql == "mem_requests":
		return "memoryRequests"
	case promql == "cpu_capacity":
		return "cpuCapacity"
	case promql == "mem_capacity":
		return "memoryCapacity"
	}
	return promql
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("parsing the form: %v", err)
	}
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.forms = append(f.forms, map[string]string{"query": r.Form.Get("query"), "time": r.Form.Get("time"), "timeout": r.Form.Get("timeout")})
	f.mu.Unlock()
	name := queryName(r.Form.Get("query"))
	samples, warnings, status := f.answer(name)
	w.Header().Set("Content-Type", "application/json")
	switch status {
	case http.StatusBadRequest:
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:1: parse error: unexpected %s"}`, name)
		return
	case http.StatusUnprocessableEntity:
		w.WriteHeader(status)
		fmt.Fprint(w, `{"status":"error","errorType":"execution","error":"many-to-many matching not allowed: matching labels must be unique on one side"}`)
		return
	}
	if status != 0 {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, http.StatusText(status))
		return
	}
	var result []map[string]any
	for _, s := range samples {
		result = append(result, map[string]any{"metric": s.labels, "value": []any{1, strconv.FormatFloat(s.value, 'f', -1, 64)}})
	}
	if result == nil {
		result = []map[string]any{}
	}
	body := map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": result}}
	if len(warnings) > 0 {
		body["warnings"] = warnings
	}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		f.t.Error(err)
	}
}

// healthyAnswer is a whole fleet: edge with orc8r, cloud with coredns and its capacity
// from kube_node_status_allocatable.
func healthyAnswer(name string) ([]sample, []string, int) {
	wl := func(cluster, ns, name string, v float64) sample {
		return sample{map[string]string{"cluster": cluster, "namespace": ns, "workload": name}, v}
	}
	cl := func(cluster string, v float64) sample { return sample{map[string]string{"cluster": cluster}, v} }
	switch name {
	case "cpuSustained":
		return []sample{cl("edge", 6.5), cl("cloud", 3), cl("elsewhere", 1)}, nil, 0
	case "memorySustained":
		return []sample{cl("edge", 4*gi), cl("cloud", 40*gi)}, nil, 0
	case "cpuUsage":
		return []sample{wl("edge", "orc8r-ns", "orc8r", 3.25), wl("edge", "agw-ns", "agw", 3.5), wl("cloud", "kube-system", "coredns", 4), wl("elsewhere", "x", "y", 1)}, nil, 0
	case "memoryUsage":
		return []sample{wl("edge", "orc8r-ns", "orc8r", 3*gi), wl("edge", "agw-ns", "agw", 2*gi), wl("cloud", "kube-system", "coredns", 41*gi)}, nil, 0
	case "cpuRequests":
		return []sample{wl("edge", "orc8r-ns", "orc8r", 3), wl("cloud", "kube-system", "coredns", 6)}, nil, 0
	case "memoryRequests":
		return []sample{wl("edge", "orc8r-ns", "orc8r", 4*gi), wl("cloud", "kube-system", "coredns", 48*gi)}, nil, 0
	case "cpuCapacity":
		return []sample{cl("edge", 999), cl("cloud", 64)}, nil, 0
	case "memoryCapacity":
		return []sample{cl("cloud", 256*gi)}, nil, 0
	}
	return nil, nil, http.StatusBadRequest
}

func startFake(t *testing.T, answer func(string) ([]sample, []string, int)) (*fakePrometheus, *httptest.Server) {
	f := &fakePrometheus{t: t, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func fakeSource(t *testing.T, cfg *config.Config, url string, opts prometheus.Options) *prometheus.Source {
	t.Helper()
	opts.URL = url
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	src, err := prometheus.NewSource(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func clusterMetrics(t *testing.T, s *metrics.Snapshot, name string) metrics.ClusterMetrics {
	t.Helper()
	for _, c := range s.Clusters {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s in the snapshot", name)
	return metrics.ClusterMetrics{}
}

func TestPrometheusSourceReadsTheFleetAtOneTime(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	fake, srv := startFake(t, healthyAnswer)
	at := time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)
	snap, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.forms) != 8 {
		t.Errorf("%d queries, want 8: sustained, usage and requests of cpu and memory, and capacity for cloud", len(fake.forms))
	}
	for _, f := range fake.forms {
		if f["time"] != "1777885200" {
			t.Errorf("query %s evaluated at %q, want 1777885200 (the one evaluation time)", queryName(f["query"]), f["time"])
		}
		// policy.prometheus.timeout (7s) bounds the query with its retries; the server
		// gets a little less, so that its own reason arrives first.
		if f["timeout"] != "5.6s" {
			t.Errorf("query %s has server timeout %q, want 5.6s of policy.prometheus.timeout's 7s", queryName(f["query"]), f["timeout"])
		}
	}
	edge := clusterMetrics(t, snap, "edge")
	if edge.Unknown() {
		t.Fatalf("edge is Unknown: %s", edge.Why)
	}
	want := metrics.ResourceMetrics{Sustained: 6.5, Used: 6.75, Requests: 3, Capacity: 8}
	if edge.CPU != want {
		t.Errorf("edge cpu = %+v, want %+v (configured capacity wins over the query's 999)", edge.CPU, want)
	}
	if cloud := clusterMetrics(t, snap, "cloud"); cloud.Unknown() || cloud.CPU.Capacity != 64 || cloud.Memory.Capacity != 256*gi {
		t.Errorf("cloud = %+v, want its capacity from the capacity queries", cloud)
	}
	if len(snap.Clusters) != 2 {
		t.Errorf("snapshot has %d clusters, want only gitmig.yaml's 2", len(snap.Clusters))
	}
	if len(snap.Queries) != 8 || !strings.HasPrefix(snap.Queries[0].PromQL, "min_over_time((sum by (cluster) (cpu_usage))[10m:1m]) and on (cluster) (count_over_time(") {
		t.Errorf("recorded queries = %+v", snap.Queries)
	}
	if !snap.EvaluatedAt.Equal(at) || snap.Source != srv.URL {
		t.Errorf("snapshot at %s from %s, want %s from %s", snap.EvaluatedAt, snap.Source, at, srv.URL)
	}
	if err := snap.Validate(); err != nil {
		t.Errorf("the snapshot does not validate: %v", err)
	}
}

func TestPrometheusPartialDataMakesClustersUnknown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(name string, samples []sample) ([]sample, []string)
		cluster string
		why     string
	}{
		{"warning", func(name string, s []sample) ([]sample, []string) {
			if name == "memoryUsage" {
				return s, []string{"partial response: store eu-1 unreachable"}
			}
			return s, nil
		}, "cloud", "Prometheus warned on memoryUsage: partial response: store eu-1 unreachable"},
		{"NaN workload", func(name string, s []sample) ([]sample, []string) {
			if name == "cpuUsage" {
				s[0].value = math.NaN()
			}
			return s, nil
		}, "edge", "cpuUsage returned NaN for orc8r-ns/orc8r"},
		{"Inf sustained", func(name string, s []sample) ([]sample, []string) {
			if name == "cpuSustained" {
				s[0].value = math.Inf(1)
			}
			return s, nil
		}, "edge", "cpuSustained returned +Inf"},
		{"cluster missing from one result", func(name string, s []sample) ([]sample, []string) {
			if name == "memorySustained" {
				return s[1:], nil
			}
			return s, nil
		}, "edge", "memory usage does not cover the whole 10m sustain window"},
		{"no data", func(name string, s []sample) ([]sample, []string) {
			var kept []sample
			for _, x := range s {
				if x.labels["cluster"] != "edge" {
					kept = append(kept, x)
				}
			}
			return kept, nil
		}, "edge", `no cpu usage series with cluster="edge"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parseConfig(t, fakeConfig)
			_, srv := startFake(t, func(name string) ([]sample, []string, int) {
				s, _, status := healthyAnswer(name)
				s, w := tc.change(name, s)
				return s, w, status
			})
			snap, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			c := clusterMetrics(t, snap, tc.cluster)
			if !c.Unknown() {
				t.Fatalf("%s is not Unknown: %+v", tc.cluster, c)
			}
			wantContains(t, tc.cluster+"'s why", c.Why, tc.why)
			if err := snap.Validate(); err != nil {
				t.Errorf("a snapshot with Unknown clusters must still validate (and save): %v", err)
			}
		})
	}
}

func TestPrometheusRejectedQueryNamesItAndIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   string
	}{
		{http.StatusBadRequest, "rejected it (bad_data): invalid parameter \"query\": 1:1: parse error"},
		{http.StatusUnprocessableEntity, "rejected it (execution): many-to-many matching not allowed"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			cfg := parseConfig(t, fakeConfig)
			fake, srv := startFake(t, func(name string) ([]sample, []string, int) {
				if name == "cpuRequests" {
					return nil, nil, tc.status
				}
				return healthyAnswer(name)
			})
			_, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now())
			var qerr *metrics.QueryError
			if !errors.As(err, &qerr) || qerr.Kind != metrics.QueryInvalid {
				t.Fatalf("err = %v, want a QueryInvalid QueryError", err)
			}
			wantContains(t, "error", err.Error(), "query cpuRequests (policy.queries.cpuRequests)", tc.want)
			if n := len(fake.forms); n != 5 {
				t.Errorf("%d requests, want 5: four answered, the rejected one not retried", n)
			}
		})
	}
}

func TestPrometheusMissingLabelIsAConfigurationError(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	_, srv := startFake(t, func(name string) ([]sample, []string, int) {
		if name == "cpuUsage" {
			return []sample{{map[string]string{"cluster": "edge", "namespace": "n", "deployment": "orc8r"}, 1}}, nil, 0
		}
		return healthyAnswer(name)
	})
	_, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now())
	if err == nil {
		t.Fatal("no error for series without the workload label")
	}
	wantContains(t, "error", err.Error(), "query cpuUsage (policy.queries.cpuUsage)", `without the label "workload"`, "policy.queries.workloadLabel")
}

func TestPrometheusRetries503(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	var mu sync.Mutex
	failures := 2
	fake, srv := startFake(t, func(name string) ([]sample, []string, int) {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return nil, nil, http.StatusServiceUnavailable
		}
		return healthyAnswer(name)
	})
	snap, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now())
	if err != nil {
		t.Fatalf("two 503s then answers: %v", err)
	}
	if len(fake.forms) != 10 {
		t.Errorf("%d requests, want 10: 8 queries and 2 retries", len(fake.forms))
	}
	if c := clusterMetrics(t, snap, "edge"); c.Unknown() {
		t.Errorf("edge Unknown after successful retries: %s", c.Why)
	}

	// A server that keeps answering 503 is given up on after the attempts.
	fake, srv = startFake(t, func(string) ([]sample, []string, int) { return nil, nil, http.StatusServiceUnavailable })
	_, err = fakeSource(t, cfg, srv.URL, prometheus.Options{Attempts: 3}).Snapshot(context.Background(), time.Now())
	var qerr *metrics.QueryError
	if !errors.As(err, &qerr) || qerr.Kind != metrics.QueryUnavailable {
		t.Fatalf("err = %v, want a QueryUnavailable QueryError", err)
	}
	wantContains(t, "error", err.Error(), "query cpuSustained", "server error: 503")
	if len(fake.forms) != 3 {
		t.Errorf("%d requests, want 3 attempts", len(fake.forms))
	}
}

func TestPrometheusRetriesBusyGatewaysAndHonoursRetryAfter(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	for _, status := range []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var mu sync.Mutex
			failed := false
			fake, srv := startFake(t, func(name string) ([]sample, []string, int) {
				mu.Lock()
				defer mu.Unlock()
				if !failed {
					failed = true
					return nil, nil, status
				}
				return healthyAnswer(name)
			})
			fake.retryAfter = "1"
			start := time.Now()
			if _, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now()); err != nil {
				t.Fatalf("one %d then answers: %v", status, err)
			}
			if elapsed := time.Since(start); elapsed < time.Second {
				t.Errorf("retried after %s, want the server's Retry-After of 1s", elapsed)
			}
			if len(fake.forms) != 9 {
				t.Errorf("%d requests, want 9: 8 queries and 1 retry", len(fake.forms))
			}
		})
	}
}

// A Prometheus that accepts the connection and never answers fails the query within
// policy.prometheus.timeout, retries included.
func TestPrometheusTimeoutBoundsTheWholeQuery(t *testing.T) {
	cfg := parseConfig(t, strings.Replace(fakeConfig, "timeout: 7s", "timeout: 1s", 1))
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	start := time.Now()
	_, err := fakeSource(t, cfg, srv.URL, prometheus.Options{Attempts: 4}).Snapshot(context.Background(), time.Now())
	var qerr *metrics.QueryError
	if !errors.As(err, &qerr) || qerr.Kind != metrics.QueryUnavailable {
		t.Fatalf("err = %v, want a QueryUnavailable QueryError", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("gave up after %s, want about policy.prometheus.timeout (1s) for the query and its retries", elapsed)
	}
}

func TestPrometheusUnreachable(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	url := "http://" + closedAddress(t)
	start := time.Now()
	_, err := fakeSource(t, cfg, url, prometheus.Options{Attempts: 3, Backoff: 20 * time.Millisecond}).Snapshot(context.Background(), time.Now())
	var qerr *metrics.QueryError
	if !errors.As(err, &qerr) || qerr.Kind != metrics.QueryUnavailable {
		t.Fatalf("err = %v, want a QueryUnavailable QueryError", err)
	}
	wantContains(t, "error", err.Error(), "cannot reach Prometheus at "+url, "after 3 attempts", "connection refused")
	if elapsed := time.Since(start); elapsed < 60*time.Millisecond {
		t.Errorf("gave up after %s, want the 20ms+40ms backoff between the 3 attempts", elapsed)
	}
}

// closedAddress returns a loopback address where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestPrometheusCredentialsFromTheEnvironment(t *testing.T) {
	const token = "s3cr3t-t0ken"
	env := map[string]string{"PROM_TOKEN": token, "PROM_USER": "gitmig", "PROM_PASSWORD": "hunter2"}
	getenv := func(k string) string { return env[k] }

	t.Run("bearer", func(t *testing.T) {
		cfg := parseConfig(t, fakeConfig)
		cfg.Policy.Prometheus.BearerTokenEnv = "PROM_TOKEN"
		fake, srv := startFake(t, healthyAnswer)
		if _, err := fakeSource(t, cfg, srv.URL, prometheus.Options{Getenv: getenv}).Snapshot(context.Background(), time.Now()); err != nil {
			t.Fatal(err)
		}
		for _, r := range fake.requests {
			if got := r.Header.Get("Authorization"); got != "Bearer "+token {
				t.Fatalf("Authorization = %q, want the bearer token", got)
			}
		}
	})
	t.Run("basic", func(t *testing.T) {
		cfg := parseConfig(t, fakeConfig)
		cfg.Policy.Prometheus.BasicAuth = &config.BasicAuthEnv{UsernameEnv: "PROM_USER", PasswordEnv: "PROM_PASSWORD"}
		fake, srv := startFake(t, healthyAnswer)
		if _, err := fakeSource(t, cfg, srv.URL, prometheus.Options{Getenv: getenv}).Snapshot(context.Background(), time.Now()); err != nil {
			t.Fatal(err)
		}
		user, password, ok := fake.requests[0].BasicAuth()
		if !ok || user != "gitmig" || password != "hunter2" {
			t.Fatalf("basic auth = %q %q %v", user, password, ok)
		}
	})
	t.Run("rejected credentials stay secret", func(t *testing.T) {
		cfg := parseConfig(t, fakeConfig)
		cfg.Policy.Prometheus.BearerTokenEnv = "PROM_TOKEN"
		_, srv := startFake(t, func(string) ([]sample, []string, int) { return nil, nil, http.StatusUnauthorized })
		_, err := fakeSource(t, cfg, srv.URL, prometheus.Options{Getenv: getenv}).Snapshot(context.Background(), time.Now())
		if err == nil {
			t.Fatal("no error on 401")
		}
		if strings.Contains(err.Error(), token) {
			t.Fatalf("the error leaks the token: %v", err)
		}
		wantContains(t, "error", err.Error(), "client error: 401")
	})
	t.Run("unset variable", func(t *testing.T) {
		cfg := parseConfig(t, fakeConfig)
		cfg.Policy.Prometheus.BearerTokenEnv = "PROM_MISSING"
		_, err := prometheus.NewSource(cfg, prometheus.Options{Getenv: getenv})
		if err == nil {
			t.Fatal("no error for an unset token variable")
		}
		wantContains(t, "error", err.Error(), "policy.prometheus.bearerTokenEnv: environment variable PROM_MISSING is empty or unset")
	})
}

func TestPrometheusContextDeadline(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice when the client hangs up.
		_ = r.ParseForm()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(ctx, time.Now())
	if err == nil {
		t.Fatal("no error from a server that never answers")
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("took %s, want the context's 100ms to stop it", elapsed)
	}
}

// Credentials never leave through a URL, an error or an answer too large to hold.
func TestPrometheusSecrets(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	_, err := prometheus.NewSource(cfg, prometheus.Options{URL: "http://admin:hunter22@prom.test:9090", URLFrom: "$GITMIG_PROMETHEUS_URL"})
	if err == nil || strings.Contains(err.Error(), "hunter22") || !strings.Contains(err.Error(), "$GITMIG_PROMETHEUS_URL must not carry credentials") {
		t.Errorf("a URL with a password: %v", err)
	}

	const token = "prom-token-0123456789"
	cfg.Policy.Prometheus.BearerTokenEnv = "PROM_TOKEN"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"status":"error","errorType":"internal","error":"upstream refused %s"}`, r.Header.Get("Authorization"))
	}))
	t.Cleanup(echo.Close)
	src, err := prometheus.NewSource(cfg, prometheus.Options{URL: echo.URL, Attempts: 1, Getenv: func(string) string { return token }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Snapshot(context.Background(), time.Now())
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "upstream refused") {
		t.Errorf("a server echoing the token: %v", err)
	}

	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`)
		chunk := strings.Repeat(`{"metric":{"cluster":"edge"},"value":[1,"1"]},`, 1<<10)
		for range 2 << 10 { // about 100 MiB
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(huge.Close)
	cfg.Policy.Prometheus.BearerTokenEnv = ""
	_, err = fakeSource(t, cfg, huge.URL, prometheus.Options{Attempts: 1}).Snapshot(context.Background(), time.Now())
	if err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
		t.Errorf("a 100 MiB answer: %v", err)
	}
}

// Finite samples whose sum overflows make their cluster Unknown, with the reason; the
// plan computed from the snapshot, and its JSON, hold only finite numbers.
func TestOverflowingSumsAreUnknown(t *testing.T) {
	cfg := parseConfig(t, fakeConfig)
	_, srv := startFake(t, func(name string) ([]sample, []string, int) {
		if name == "cpuUsage" {
			huge := func(ns string) sample {
				return sample{map[string]string{"cluster": "edge", "namespace": ns, "workload": "orc8r"}, 1.7e308}
			}
			return []sample{huge("orc8r-ns"), huge("orc8r-ns")}, nil, 0
		}
		return healthyAnswer(name)
	})
	snap, err := fakeSource(t, cfg, srv.URL, prometheus.Options{}).Snapshot(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	edge := clusterMetrics(t, snap, "edge")
	if !edge.Unknown() || !strings.Contains(edge.Why, "sums to +Inf") {
		t.Errorf("edge: state %s, why %q", edge.State, edge.Why)
	}
	if _, err := snap.Marshal(); err != nil {
		t.Errorf("the snapshot does not encode: %v", err)
	}
	if err := snap.Validate(); err != nil {
		t.Errorf("the snapshot does not validate: %v", err)
	}
	plan := decide.NewPlan(decide.Input{Config: cfg, Metrics: snap, Fleet: decide.Fleet{Running: map[string][]string{"orc8r": {"edge"}}}})
	if err := present.PlanJSON(io.Discard, plan); err != nil {
		t.Errorf("plan -o json: %v", err)
	}
}
