package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gitmig/gitmig/internal/gitops/runner"
	"github.com/gitmig/gitmig/internal/step"
)

// WebhookSecretEnv names the environment variable holding the webhook's secret.
const WebhookSecretEnv = "GITMIG_WEBHOOK_SECRET"

// maxPayload is GitHub's cap on a webhook payload: a larger body is not GitHub's.
const maxPayload = 25 << 20

// Handler serves /healthz, /readyz, /metrics and POST /webhooks/github.
type Handler struct {
	Metrics *Metrics
	// Secret is the webhook's secret; without one every delivery is refused, since
	// none can be told from a forgery.
	Secret []byte
	// Branch is the base branch: a push to it may be a merged step.
	Branch string
	// Request asks for a pass and reports whether one will run: false on a replica
	// that stands by. It must not block.
	Request func(runner.Trigger) bool
	// Ready reports whether this replica works: it leads and its watch has synced, or
	// it stands by for election.
	Ready func() bool
	Log   *slog.Logger

	mux *http.ServeMux
}

// NewHandler returns h ready to serve.
func NewHandler(h Handler) *Handler {
	out := &h
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", out.readyz)
	mux.Handle("GET /metrics", out.Metrics.Handler())
	mux.HandleFunc("POST /webhooks/github", out.webhook)
	out.mux = mux
	return out
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) readyz(w http.ResponseWriter, _ *http.Request) {
	if h.Ready != nil && !h.Ready() {
		http.Error(w, "not ready: the watch has not synced", http.StatusServiceUnavailable)
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// The fields of GitHub's pull_request and push payloads a pass cares about.
type payload struct {
	Action      string `json:"action"`
	Ref         string `json:"ref"`
	PullRequest *struct {
		Merged bool `json:"merged"`
		Head   struct {
			Ref string `json:"ref"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
}

// webhook checks a delivery's signature before reading anything in it, then starts a
// pass for a closed gitmig pull request or a push to the base branch. Answers:
// 202 a pass is requested, 204 nothing to do, 401 a signature that does not match
// (nothing started), 400 a body that is not the event's JSON, 503 this replica does
// not lead.
func (h *Handler) webhook(w http.ResponseWriter, r *http.Request) {
	event := r.Header.Get("X-GitHub-Event")
	label := event
	switch event {
	case "pull_request", "push", "ping":
	default:
		// Any name a sender puts in the header would otherwise be a new series.
		label = "other"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPayload))
	if err != nil {
		h.Metrics.webhooks.WithLabelValues(label, "invalid").Inc()
		http.Error(w, "reading the payload failed", http.StatusBadRequest)
		return
	}
	if !h.signed(body, r.Header.Get("X-Hub-Signature-256")) {
		h.Metrics.webhooks.WithLabelValues(label, "unauthorized").Inc()
		h.Log.Warn("webhook refused: X-Hub-Signature-256 does not match "+WebhookSecretEnv, "event", label, "delivery", r.Header.Get("X-GitHub-Delivery"))
		http.Error(w, "signature does not match", http.StatusUnauthorized)
		return
	}
	var p payload
	if event == "pull_request" || event == "push" {
		if err := json.Unmarshal(body, &p); err != nil {
			h.Metrics.webhooks.WithLabelValues(label, "invalid").Inc()
			http.Error(w, "the payload is not JSON", http.StatusBadRequest)
			return
		}
	}
	if !h.wanted(event, p) {
		h.Metrics.webhooks.WithLabelValues(label, "ignored").Inc()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !h.Request(runner.TriggerWebhook) {
		// A replica standing by runs no pass: say so, so that GitHub's delivery log
		// shows it and the delivery can be sent again; the leader's watch and timer
		// still see the change.
		h.Metrics.webhooks.WithLabelValues(label, "standby").Inc()
		http.Error(w, "this replica is not the leader", http.StatusServiceUnavailable)
		return
	}
	h.Metrics.webhooks.WithLabelValues(label, "pass").Inc()
	h.Log.Info("webhook", "event", event, "action", p.Action, "delivery", r.Header.Get("X-GitHub-Delivery"))
	w.WriteHeader(http.StatusAccepted)
}

// signed reports whether header is the HMAC-SHA256 of body under the secret, as
// GitHub signs deliveries, compared in constant time.
func (h *Handler) signed(body []byte, header string) bool {
	if len(h.Secret) == 0 {
		return false
	}
	hexSum, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, h.Secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// wanted reports whether an event may have changed what a migration waits for: a
// gitmig pull request into the base branch closed, merged or not, or a push to the
// base branch (a merge, or a change to gitmig.yaml).
func (h *Handler) wanted(event string, p payload) bool {
	switch event {
	case "pull_request":
		return p.Action == "closed" && p.PullRequest != nil && strings.HasPrefix(p.PullRequest.Head.Ref, step.BranchPrefix) && p.PullRequest.Base.Ref == h.Branch
	case "push":
		return p.Ref == "refs/heads/"+h.Branch
	}
	return false
}
