package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/runner"
	"github.com/gitmig/gitmig/internal/report"
)

const secret = "It's a Secret to Everybody"

// requests records the passes the handler asks for.
type requests struct {
	mu  sync.Mutex
	got []runner.Trigger
}

func (r *requests) add(t runner.Trigger) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, t)
	return true
}

func (r *requests) take() []runner.Trigger {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func sign(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func newServer(t *testing.T, key string) (*httptest.Server, *requests, *Metrics) {
	t.Helper()
	reqs := &requests{}
	m := NewMetrics()
	h := NewHandler(Handler{Metrics: m, Secret: []byte(key), Branch: "main", Request: reqs.add, Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, reqs, m
}

func deliver(t *testing.T, srv *httptest.Server, event, signature, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/github", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// pullRequest is a pull_request event payload, in the shape GitHub documents, cut to
// the fields that matter and a few that do not.
func pullRequest(action, head string, merged bool) string {
	return fmt.Sprintf(`{"action": %q, "number": 7, "pull_request": {"number": 7, "state": "closed", "merged": %t,
		"head": {"ref": %q, "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e"},
		"base": {"ref": "main", "sha": "9049f1265b7d61be4a8904a9a27120d2064dab3b"}},
		"repository": {"full_name": "example/fleet"}, "sender": {"login": "octocat"}}`, action, merged, head)
}

func push(ref string) string {
	return fmt.Sprintf(`{"ref": %q, "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		"repository": {"full_name": "example/fleet"}, "pusher": {"name": "octocat"}}`, ref)
}

// The signature is GitHub's: the example in GitHub's documentation of webhook
// validation checks the HMAC, then only signed deliveries of the events that may
// move a migration start a pass.
func TestWebhookSignatures(t *testing.T) {
	h := &Handler{Secret: []byte(secret)}
	if !h.signed([]byte("Hello, World!"), "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17") {
		t.Fatal("GitHub's documented example signature does not verify")
	}

	srv, reqs, _ := newServer(t, secret)
	merged := pullRequest("closed", "gitmig/orc8r-edge-to-cloud-20260504-0900/1-deploy", true)
	for _, tt := range []struct {
		name, event, signature, body string
		status                       int
		pass                         bool
	}{
		{"a merged gitmig pull request", "pull_request", sign(secret, merged), merged, http.StatusAccepted, true},
		{"a closed one", "pull_request", "", pullRequest("closed", "gitmig/orc8r-edge-to-cloud-20260504-0900/2-route", false), http.StatusAccepted, true},
		{"a push to the base branch", "push", "", push("refs/heads/main"), http.StatusAccepted, true},
		{"a push to another branch", "push", "", push("refs/heads/feature"), http.StatusNoContent, false},
		{"a pull request of someone else's branch", "pull_request", "", pullRequest("closed", "feature/x", true), http.StatusNoContent, false},
		{"a pull request opened", "pull_request", "", pullRequest("opened", "gitmig/orc8r-edge-to-cloud-20260504-0900/1-deploy", false), http.StatusNoContent, false},
		{"the wrong event", "issues", "", `{"action": "closed", "issue": {"number": 7}}`, http.StatusNoContent, false},
		{"ping", "ping", "", `{"zen": "Keep it logically awesome.", "hook_id": 1}`, http.StatusNoContent, false},
		{"an invalid signature", "pull_request", sign("not the secret", merged), merged, http.StatusUnauthorized, false},
		{"a signature of another body", "pull_request", sign(secret, merged+" "), merged, http.StatusUnauthorized, false},
		{"a signature that is not hex", "push", "sha256=zz", push("refs/heads/main"), http.StatusUnauthorized, false},
		{"the SHA-1 signature alone", "push", "sha1=" + strings.Repeat("0", 40), push("refs/heads/main"), http.StatusUnauthorized, false},
		{"a missing signature", "push", "-", push("refs/heads/main"), http.StatusUnauthorized, false},
		{"a signed body that is not JSON", "push", "", "{", http.StatusBadRequest, false},
	} {
		signature := tt.signature
		switch signature {
		case "":
			signature = sign(secret, tt.body)
		case "-":
			signature = ""
		}
		if got := deliver(t, srv, tt.event, signature, tt.body); got != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.status)
		}
		got := reqs.take()
		if want := map[bool][]runner.Trigger{true: {runner.TriggerWebhook}}[tt.pass]; !slices.Equal(got, want) {
			t.Errorf("%s: passes requested %v, want %v", tt.name, got, want)
		}
	}
	families := scrape(t, srv)
	for labels, want := range map[string]float64{"pull_request/pass": 2, "push/pass": 1, "push/ignored": 1, "other/ignored": 1, "pull_request/unauthorized": 2, "push/unauthorized": 3, "push/invalid": 1} {
		event, result, _ := strings.Cut(labels, "/")
		if got := value(families, "gitmig_webhooks_total", map[string]string{"event": event, "result": result}); got != want {
			t.Errorf("gitmig_webhooks_total{event=%q,result=%q} = %v, want %v", event, result, got, want)
		}
	}

	// Without a secret nothing can be told from a forgery: every delivery is refused.
	open, reqs, _ := newServer(t, "")
	if got := deliver(t, open, "push", sign("", push("refs/heads/main")), push("refs/heads/main")); got != http.StatusUnauthorized || len(reqs.take()) != 0 {
		t.Errorf("without a secret: status %d", got)
	}
}

// scrape reads /metrics with Prometheus's own text parser.
func scrape(t *testing.T, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// value is the sample of a counter, gauge or histogram (its count) with labels.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f, ok := families[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// /metrics says what the passes did, in series Prometheus parses: migrations by
// status, the time from a step's merge to the next step's pull request, passes and
// their errors by kind, and when the last one succeeded. No label carries an error's
// text.
func TestMetricsParse(t *testing.T) {
	srv, _, m := newServer(t, secret)
	start := time.Date(2026, 5, 4, 9, 10, 0, 0, time.UTC)
	merged := start.Add(-90 * time.Second)
	m.Pass(runner.Result{
		Triggers: []runner.Trigger{runner.TriggerWatch, runner.TriggerWebhook}, Started: start, Duration: 2 * time.Second,
		Report: &report.Report{
			Migrations: []report.MigrationStatus{
				{ID: "a", Status: "InProgress", PullRequests: []report.PRStatus{{Step: 1, Number: 1, MergedAt: merged}, {Step: 2, Number: 2}}},
				{ID: "b", Status: "Completed"},
				{ID: "c", Status: "Completed"},
			},
			Actions: []report.Action{{Kind: report.ActionCreatePR, Migration: "a", Step: 2}},
		},
	})
	m.Pass(runner.Result{Triggers: []runner.Trigger{runner.TriggerInterval}, Started: start.Add(time.Minute), Duration: time.Second,
		Err: fmt.Errorf("listing pull requests of https://x-access-token:ghs_secret@github.com/example/fleet: %w", &forge.RateLimitError{Reset: start.Add(time.Hour)})})
	m.Pass(runner.Result{Triggers: []runner.Trigger{runner.TriggerRetry}, Started: start.Add(2 * time.Minute), Err: errors.New("git push: connection refused")})

	families := scrape(t, srv)
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gitmig_migrations", map[string]string{"status": "InProgress"}, 1},
		{"gitmig_migrations", map[string]string{"status": "Completed"}, 2},
		{"gitmig_migrations", map[string]string{"status": "RolledBack"}, 0},
		{"gitmig_step_duration_seconds", map[string]string{"step": "route"}, 1},
		{"gitmig_pass_duration_seconds", nil, 3},
		{"gitmig_passes_total", map[string]string{"trigger": "watch"}, 1},
		{"gitmig_passes_total", map[string]string{"trigger": "interval"}, 1},
		{"gitmig_pass_errors_total", map[string]string{"kind": "rate_limit"}, 1},
		{"gitmig_pass_errors_total", map[string]string{"kind": "other"}, 1},
		{"gitmig_last_successful_pass_timestamp_seconds", nil, float64(start.Add(2 * time.Second).Unix())},
		{"gitmig_leader", nil, 0},
	} {
		if got := value(families, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if h := families["gitmig_step_duration_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleSum() != (92 * time.Second).Seconds() {
		t.Errorf("step 2 took %vs from step 1's merge, want 92", h.GetSampleSum())
	}
	for name, f := range families {
		if !strings.HasPrefix(name, "gitmig_") {
			t.Errorf("series %s is not gitmig's", name)
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if strings.Contains(l.GetValue(), "secret") || strings.Contains(l.GetValue(), "://") {
					t.Errorf("%s has label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// /healthz answers while the process runs; /readyz once the watch has synced.
func TestHealthAndReadiness(t *testing.T) {
	var ready atomic.Bool
	h := NewHandler(Handler{Metrics: NewMetrics(), Ready: ready.Load, Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path string) int {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if get("/healthz") != http.StatusOK || get("/readyz") != http.StatusServiceUnavailable {
		t.Error("a replica whose watch has not synced is alive but not ready")
	}
	ready.Store(true)
	if get("/readyz") != http.StatusOK {
		t.Error("the leader is not ready")
	}

	// A replica standing by takes no webhook: it says so.
	standby := NewHandler(Handler{Metrics: NewMetrics(), Secret: []byte(secret), Branch: "main", Request: func(runner.Trigger) bool { return false }, Log: slog.New(slog.DiscardHandler)})
	srv2 := httptest.NewServer(standby)
	defer srv2.Close()
	if got := deliver(t, srv2, "push", sign(secret, push("refs/heads/main")), push("refs/heads/main")); got != http.StatusServiceUnavailable {
		t.Errorf("a replica standing by answers a webhook with %d", got)
	}
}
