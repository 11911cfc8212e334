package prometheus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	promconfig "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/text"
)

// Options tune a Source; the zero value is ready to use.
type Options struct {
	// URL overrides policy.prometheus.url; URLFrom names where it came from (a flag,
	// an environment variable), for errors, which never print the URL itself.
	URL     string
	URLFrom string
	// Attempts bounds the tries of one query on transport errors, 429, 502, 503 and
	// 504; 4 when zero.
	Attempts int
	// Backoff is the wait before the first retry, doubled (with jitter) before each
	// next one; 250ms when zero. A Retry-After from the server wins.
	Backoff time.Duration
	// Getenv reads the credentials named in policy.prometheus; os.Getenv when nil.
	Getenv func(string) string
	// Transport sends the requests; http.DefaultTransport when nil.
	Transport http.RoundTripper
}

// Source reads the metrics of the whole fleet from one Prometheus (or a
// Prometheus-compatible API such as Thanos or Mimir), one query per metric.
type Source struct {
	cfg     *config.Config
	api     v1.API
	url     string
	timeout time.Duration
	// redact takes the credentials out of what a server echoes in its errors.
	redact *redact.Redactor
}

// serverTimeout is the time Prometheus is given to evaluate one query within
// policy.prometheus.timeout, which bounds the whole query with its retries: a little
// less, so that a query too slow for the server fails with Prometheus's reason rather
// than "context deadline exceeded".
func serverTimeout(total time.Duration) time.Duration {
	return max(total*4/5, total-5*time.Second)
}

// NewSource returns a source for cfg's fleet. Credentials are read from the
// environment variables gitmig.yaml names, now, so a missing one fails early.
func NewSource(cfg *config.Config, opts Options) (*Source, error) {
	p := cfg.Policy.Prometheus
	address, from := p.URL, "policy.prometheus.url"
	if opts.URL != "" {
		address, from = opts.URL, cmp.Or(opts.URLFrom, "the Prometheus URL")
	}
	// A password in the URL would reach the migration record, the pull requests and
	// the errors: credentials come from environment variables only.
	u, err := url.Parse(address)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("%s is not an http(s) URL such as http://prometheus:9090", from)
	case u.User != nil:
		return nil, fmt.Errorf("%s must not carry credentials; name environment variables in policy.prometheus.bearerTokenEnv or basicAuth", from)
	}
	transport := opts.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	transport, secrets, err := withCredentials(p, getenv, limitedBodies{transport})
	if err != nil {
		return nil, err
	}
	client, err := api.NewClient(api.Config{Address: address, RoundTripper: transport})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	backoff := opts.Backoff
	if backoff <= 0 {
		backoff = 250 * time.Millisecond
	}
	retrying := &retryingClient{next: client, backoff: wait.Backoff{Duration: backoff, Factor: 2, Jitter: 0.1, Steps: attempts}}
	return &Source{cfg: cfg, api: v1.NewAPI(retrying), url: address, timeout: p.Timeout.Duration, redact: redact.New(secrets...)}, nil
}

// withCredentials adds the bearer token or basic auth that the environment holds, and
// returns them for redaction. The values never appear in an error: only the
// variables' names do.
func withCredentials(p config.Prometheus, getenv func(string) string, rt http.RoundTripper) (http.RoundTripper, []string, error) {
	read := func(field, name string) (string, error) {
		v := getenv(name)
		if v == "" {
			return "", fmt.Errorf("%s: environment variable %s is empty or unset", field, name)
		}
		return v, nil
	}
	if p.BearerTokenEnv != "" {
		token, err := read("policy.prometheus.bearerTokenEnv", p.BearerTokenEnv)
		if err != nil {
			return nil, nil, err
		}
		return promconfig.NewAuthorizationCredentialsRoundTripper("Bearer", promconfig.NewInlineSecret(token), rt), []string{token}, nil
	}
	if b := p.BasicAuth; b != nil {
		user, err := read("policy.prometheus.basicAuth.usernameEnv", b.UsernameEnv)
		if err != nil {
			return nil, nil, err
		}
		password, err := read("policy.prometheus.basicAuth.passwordEnv", b.PasswordEnv)
		if err != nil {
			return nil, nil, err
		}
		return promconfig.NewBasicAuthRoundTripper(promconfig.NewInlineSecret(user), promconfig.NewInlineSecret(password), rt), []string{user, password}, nil
	}
	return rt, nil, nil
}

// maxResponse bounds what one answer may weigh: a fleet's largest vector is a few
// megabytes, and a server that sends more is not Prometheus.
const maxResponse = 64 << 20

// limitedBodies cuts every response body at maxResponse with an error, so that a
// server answering without end cannot fill the memory.
type limitedBodies struct{ next http.RoundTripper }

func (l limitedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err == nil {
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: maxResponse}
	}
	return resp, err
}

type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("the answer is larger than %d MiB", maxResponse>>20)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// metrics.Snapshot evaluates every query at the same instant at, so that all numbers describe
// one moment of the fleet. A cluster whose numbers are missing, NaN or infinite is
// Unknown with the reason; a warning applies to a whole answer, so it makes every
// cluster Unknown. A query that fails, after the retries for transport errors and 503,
// is a *metrics.QueryError.
func (s *Source) Snapshot(ctx context.Context, at time.Time) (*metrics.Snapshot, error) {
	at = at.UTC()
	queries := fleetQueries(s.cfg)
	b := newSnapshotBuilder(s.cfg, at)
	b.snap.Source = s.url
	for _, q := range queries {
		b.snap.Queries = append(b.snap.Queries, metrics.Query{Name: q.name, PromQL: q.promql})
		vector, warnings, err := s.query(ctx, q, at)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			b.unknownAll(fmt.Sprintf("Prometheus warned on %s: %s", q.name, w))
		}
		if err := b.add(q, vector); err != nil {
			return nil, err
		}
	}
	return b.finish(), nil
}

func (s *Source) query(ctx context.Context, q fleetQuery, at time.Time) (model.Vector, v1.Warnings, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	value, warnings, _, err := s.api.Query(ctx, q.promql, at, v1.WithTimeout(serverTimeout(s.timeout)))
	if err != nil {
		return nil, nil, s.queryError(q, err)
	}
	vector, ok := value.(model.Vector)
	if !ok {
		return nil, nil, &metrics.QueryError{Kind: metrics.QueryInvalid, Query: q.name, Field: q.field,
			Err: fmt.Errorf("returned a %s, want an instant vector", value.Type())}
	}
	return vector, warnings, nil
}

// queryError tells configuration mistakes (4xx: fix gitmig.yaml) from an unavailable
// server (transport errors and 5xx, already retried).
func (s *Source) queryError(q fleetQuery, err error) error {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		switch apiErr.Type {
		case v1.ErrBadData, v1.ErrExec, v1.ErrClient:
			return &metrics.QueryError{Kind: metrics.QueryInvalid, Query: q.name, Field: q.field,
				Err: fmt.Errorf("Prometheus at %s rejected it (%s): %s", s.url, apiErr.Type, s.redact.String(apiErr.Msg))}
		}
		msg := apiErr.Msg
		if detail := strings.TrimSpace(apiErr.Detail); detail != "" {
			msg += ": " + text.Truncate(detail, 200)
		}
		return &metrics.QueryError{Kind: metrics.QueryUnavailable, Query: q.name, Field: q.field,
			Err: fmt.Errorf("Prometheus at %s failed (%s): %s", s.url, apiErr.Type, s.redact.String(msg))}
	}
	return &metrics.QueryError{Kind: metrics.QueryUnavailable, Query: q.name, Field: q.field,
		Err: fmt.Errorf("cannot reach Prometheus at %s: %w", s.url, s.redact.Error(err))}
}

// snapshotBuilder gathers query answers into a metrics.Snapshot, marking a cluster Unknown, with
// every reason, as soon as one of its numbers cannot be trusted.
type snapshotBuilder struct {
	cfg       *config.Config
	snap      *metrics.Snapshot
	clusters  map[string]*clusterTotals
	workloads map[workloadKey]*metrics.WorkloadMetrics
}

type clusterTotals struct {
	metrics metrics.ClusterMetrics
	// seen records which query roles returned at least one sample for the cluster.
	seen    map[queryRole][2]bool
	reasons []string
}

type workloadKey struct{ cluster, namespace, name string }

func newSnapshotBuilder(cfg *config.Config, at time.Time) *snapshotBuilder {
	b := &snapshotBuilder{
		cfg:       cfg,
		snap:      &metrics.Snapshot{APIVersion: config.APIVersion, Kind: metrics.SnapshotKind, EvaluatedAt: at, Sustain: cfg.Policy.Sustain},
		clusters:  map[string]*clusterTotals{},
		workloads: map[workloadKey]*metrics.WorkloadMetrics{},
	}
	for _, cl := range cfg.Clusters {
		t := &clusterTotals{metrics: metrics.ClusterMetrics{Name: cl.Name}, seen: map[queryRole][2]bool{}}
		if v, ok := cl.CPUCores(); ok {
			t.metrics.CPU.Capacity = v
			t.markSeen(roleCapacity, cpu)
		}
		if v, ok := cl.MemoryBytes(); ok {
			t.metrics.Memory.Capacity = v
			t.markSeen(roleCapacity, memory)
		}
		b.clusters[cl.Name] = t
	}
	return b
}

func (t *clusterTotals) markSeen(role queryRole, r resource) {
	seen := t.seen[role]
	seen[r] = true
	t.seen[role] = seen
}

func (t *clusterTotals) resource(r resource) *metrics.ResourceMetrics {
	if r == cpu {
		return &t.metrics.CPU
	}
	return &t.metrics.Memory
}

func (b *snapshotBuilder) unknownAll(reason string) {
	for _, t := range b.clusters {
		t.reasons = append(t.reasons, reason)
	}
}

// add reads the samples of one query. Samples of clusters that gitmig.yaml does not
// list are ignored: one Prometheus often watches more than the fleet.
func (b *snapshotBuilder) add(q fleetQuery, vector model.Vector) error {
	labels := b.cfg.Policy.Queries
	clusterLabel := model.LabelName(b.cfg.Policy.Prometheus.ClusterLabel)
	perWorkload := q.role == roleUsage || q.role == roleRequests
	for _, sample := range vector {
		name, ok := sample.Metric[clusterLabel]
		if !ok {
			return missingLabel(q, sample.Metric, string(clusterLabel), "policy.prometheus.clusterLabel")
		}
		t := b.clusters[string(name)]
		if t == nil {
			continue
		}
		value := float64(sample.Value)
		finite := isFinite(value)
		if !perWorkload {
			if !finite {
				t.reasons = append(t.reasons, fmt.Sprintf("%s returned %v", q.name, value))
				continue
			}
			t.markSeen(q.role, q.resource)
			if q.role == roleSustained {
				t.resource(q.resource).Sustained = value
			} else if !configuredCapacity(b.cfg, string(name), q.resource) {
				t.resource(q.resource).Capacity = value
			}
			continue
		}
		namespace, ok := sample.Metric[model.LabelName(labels.NamespaceLabel)]
		if !ok {
			return missingLabel(q, sample.Metric, labels.NamespaceLabel, "policy.queries.namespaceLabel")
		}
		workload, ok := sample.Metric[model.LabelName(labels.WorkloadLabel)]
		if !ok {
			return missingLabel(q, sample.Metric, labels.WorkloadLabel, "policy.queries.workloadLabel")
		}
		if !finite {
			t.reasons = append(t.reasons, fmt.Sprintf("%s returned %v for %s/%s", q.name, value, namespace, workload))
			continue
		}
		t.markSeen(q.role, q.resource)
		key := workloadKey{string(name), string(namespace), string(workload)}
		w := b.workloads[key]
		if w == nil {
			w = &metrics.WorkloadMetrics{Cluster: key.cluster, Namespace: key.namespace, Name: key.name}
			b.workloads[key] = w
		}
		usage := &w.CPU
		if q.resource == memory {
			usage = &w.Memory
		}
		total := t.resource(q.resource)
		if q.role == roleUsage {
			usage.Usage += value
			total.Used += value
		} else {
			usage.Requests += value
			total.Requests += value
		}
	}
	return nil
}

func configuredCapacity(cfg *config.Config, cluster string, r resource) bool {
	cl, _ := cfg.Cluster(cluster)
	if r == cpu {
		_, ok := cl.CPUCores()
		return ok
	}
	_, ok := cl.MemoryBytes()
	return ok
}

func missingLabel(q fleetQuery, m model.Metric, label, field string) error {
	return &metrics.QueryError{Kind: metrics.QueryInvalid, Query: q.name, Field: q.field,
		Err: fmt.Errorf("returned series %s without the label %q; set %s to the label your series carry", m, label, field)}
}

// finish checks that every cluster got every number, and turns the missing ones into
// reasons for Unknown.
func (b *snapshotBuilder) finish() *metrics.Snapshot {
	// Finite samples can sum past the largest float: such a workload, and its cluster,
	// are unknown, not infinite.
	for key, w := range b.workloads {
		for _, v := range []float64{w.CPU.Usage, w.CPU.Requests, w.Memory.Usage, w.Memory.Requests} {
			if !isFinite(v) {
				if t := b.clusters[key.cluster]; t != nil {
					t.reasons = append(t.reasons, fmt.Sprintf("the usage of %s/%s sums to %v", key.namespace, key.name, v))
				}
				delete(b.workloads, key)
				break
			}
		}
	}
	window := model.Duration(b.cfg.Policy.Sustain.Duration)
	for _, cl := range b.cfg.Clusters {
		t := b.clusters[cl.Name]
		for _, r := range []*metrics.ResourceMetrics{&t.metrics.CPU, &t.metrics.Memory} {
			for _, v := range []*float64{&r.Sustained, &r.Used, &r.Requests, &r.Capacity} {
				if !isFinite(*v) {
					t.reasons = append(t.reasons, fmt.Sprintf("a total sums to %v", *v))
					*v = 0
				}
			}
		}
		for _, r := range []resource{cpu, memory} {
			switch {
			case !t.seen[roleUsage][r]:
				t.reasons = append(t.reasons, fmt.Sprintf("no %s usage series with %s=%q", r, b.cfg.Policy.Prometheus.ClusterLabel, cl.Name))
			case !t.seen[roleSustained][r]:
				t.reasons = append(t.reasons, fmt.Sprintf("%s usage does not cover the whole %s sustain window", r, window))
			}
			if !t.seen[roleRequests][r] {
				t.reasons = append(t.reasons, fmt.Sprintf("no %s requests series (kube-state-metrics) with %s=%q", r, b.cfg.Policy.Prometheus.ClusterLabel, cl.Name))
			}
			if !t.seen[roleCapacity][r] || t.resource(r).Capacity <= 0 {
				t.reasons = append(t.reasons, fmt.Sprintf("no %s capacity: neither in gitmig.yaml nor from the capacity query", r))
			}
		}
		m := t.metrics
		if len(t.reasons) > 0 {
			m.State = metrics.StateUnknown
			m.Why = strings.Join(dedupe(t.reasons), "; ")
		}
		b.snap.Clusters = append(b.snap.Clusters, m)
	}
	for _, w := range b.workloads {
		b.snap.Workloads = append(b.snap.Workloads, *w)
	}
	b.snap.Sort()
	return b.snap
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// dedupe drops repeated reasons, keeping the first occurrence's order.
func dedupe(reasons []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range reasons {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}
