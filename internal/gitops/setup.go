package gitops

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport/http"
	"k8s.io/client-go/dynamic"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/gitops/forge"
	"github.com/gitmig/gitmig/internal/gitops/forge/github"
	"github.com/gitmig/gitmig/internal/gitops/forge/local"
	"github.com/gitmig/gitmig/internal/gitops/gate"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/metrics/prometheus"
)

// Default author of gitmig's commits.
const (
	DefaultAuthorName  = "gitmig"
	DefaultAuthorEmail = "gitmig@localhost"
)

// Env reads the environment; os.Getenv in production, a map in tests.
type Env func(name string) string

// Setup is how to reach the repository and its forge, read from gitmig.yaml.
type Setup struct {
	// Remote is gitops.remote, a relative path resolved against the repository folder.
	Remote string
	Branch string
	// Token authenticates HTTPS git and the GitHub API; never printed.
	Token       string
	AuthorName  string
	AuthorEmail string
}

// NewSetup resolves gitmig.yaml's gitops section; repoDir anchors a relative remote.
func NewSetup(cfg *config.Config, repoDir string, env Env) (*Setup, error) {
	g := cfg.GitOps
	if g.Remote == "" {
		return nil, fmt.Errorf("gitops.remote is empty: set it to the repository's HTTPS URL or a local path")
	}
	s := &Setup{Remote: g.Remote, Branch: g.Branch, AuthorName: DefaultAuthorName, AuthorEmail: DefaultAuthorEmail}
	if isLocalPath(g.Remote) && !filepath.IsAbs(g.Remote) {
		abs, err := filepath.Abs(filepath.Join(repoDir, g.Remote))
		if err != nil {
			return nil, err
		}
		s.Remote = abs
	}
	if g.Author != nil {
		s.AuthorName, s.AuthorEmail = g.Author.Name, g.Author.Email
	}
	tokenEnv := g.TokenEnv
	if g.Forge == config.ForgeGitHub && g.GitHub != nil {
		tokenEnv = g.GitHub.TokenEnv
	}
	if tokenEnv != "" {
		s.Token = env(tokenEnv)
		if s.Token == "" && g.Forge == config.ForgeGitHub {
			return nil, fmt.Errorf("the GitHub token is missing: set the environment variable %s (gitops.github.tokenEnv)", tokenEnv)
		}
	}
	return s, nil
}

// isLocalPath tells a path from a URL (scheme://...) and from git's scp-like syntax
// (user@host:repo.git), where a colon comes before any slash.
func isLocalPath(remote string) bool {
	if strings.Contains(remote, "://") {
		return false
	}
	colon, slash := strings.Index(remote, ":"), strings.Index(remote, "/")
	return colon < 0 || (slash >= 0 && slash < colon)
}

// Clone opens a workspace on the base branch.
func (s *Setup) Clone(now func() time.Time) func(ctx context.Context) (*workspace.Workspace, error) {
	return func(ctx context.Context) (*workspace.Workspace, error) {
		return workspace.Clone(ctx, workspace.Options{
			Remote: s.Remote, Branch: s.Branch, Token: s.Token,
			AuthorName: s.AuthorName, AuthorEmail: s.AuthorEmail, Now: now,
		})
	}
}

// Forge opens the forge gitmig.yaml names.
func (s *Setup) Forge(cfg *config.Config, now func() time.Time) (forge.Forge, error) {
	switch cfg.GitOps.Forge {
	case config.ForgeGitHub:
		gh := cfg.GitOps.GitHub
		return github.New(github.Options{
			Owner: gh.Owner, Repo: gh.Repo, BaseURL: gh.APIURL,
			Token: s.Token, TokenEnv: gh.TokenEnv, Now: now,
		})
	case config.ForgeLocal:
		opts := local.Options{Remote: s.Remote, Base: s.Branch, AuthorName: s.AuthorName, AuthorEmail: s.AuthorEmail, Now: now}
		if s.Token != "" {
			opts.Auth = &http.BasicAuth{Username: "x-access-token", Password: s.Token}
		}
		return local.New(opts)
	}
	return nil, fmt.Errorf("gitops.forge %q is not supported", cfg.GitOps.Forge)
}

// Gate returns the gates gitmig.yaml asks for: the engine's, then the workloads'
// where gitops.workloads gives access (through the cluster's API server, or through
// kube-state-metrics in Prometheus), all held by the drain timer and, with
// policy.queries.requestRate, until the source is idle.
func Gate(cfg *config.Config, env Env) (gate.Gate, error) {
	var gates gate.All
	g := cfg.GitOps
	switch g.Engine {
	case config.EngineNone:
		gates = append(gates, gate.Merged{})
	case config.EngineArgoCD:
		client, err := gate.DynamicClient(g.ArgoCD.KubeTarget, gate.RequestTimeout)
		if err != nil {
			return nil, fmt.Errorf("gitops.argocd: %w", err)
		}
		gates = append(gates, gate.ArgoCD{Client: client, Namespace: g.ArgoCD.Namespace, Applications: g.ArgoCD.Applications})
	case config.EngineFlux:
		client, err := gate.DynamicClient(g.Flux.KubeTarget, gate.RequestTimeout)
		if err != nil {
			return nil, fmt.Errorf("gitops.flux: %w", err)
		}
		gates = append(gates, gate.Flux{Client: client, Namespace: g.Flux.Namespace, Kustomizations: g.Flux.Kustomizations})
	default:
		return nil, fmt.Errorf("gitops.engine %q is not supported", g.Engine)
	}
	kube := gate.Workloads{Clients: map[string]dynamic.Interface{}}
	viaPrometheus := map[string]bool{}
	for cluster, access := range g.Workloads {
		if access.Prometheus {
			viaPrometheus[cluster] = true
			continue
		}
		client, err := gate.DynamicClient(access.KubeTarget, gate.RequestTimeout)
		if err != nil {
			return nil, fmt.Errorf("gitops.workloads.%s: %w", cluster, err)
		}
		kube.Clients[cluster] = client
	}
	if len(kube.Clients) > 0 {
		gates = append(gates, kube)
	}
	hold := gate.Hold{Inner: gates, Settle: cfg.Policy.RouteSettle.Duration, Drain: cfg.Policy.Drain.Duration}
	if len(viaPrometheus) > 0 || cfg.Policy.Queries.RequestRate != "" {
		metrics, err := prometheus.NewSource(cfg, prometheus.Options{Getenv: env})
		if err != nil {
			return nil, err
		}
		if len(viaPrometheus) > 0 {
			hold.Inner = append(gates, gate.PrometheusWorkloads{Metrics: metrics, Clusters: viaPrometheus, Queries: cfg.Policy.Queries})
		}
		if q := cfg.Policy.Queries.RequestRate; q != "" {
			hold.Idle = &gate.Idle{Metrics: metrics, Query: q, Threshold: cfg.Policy.IdleRate, Step: time.Minute}
		}
	}
	return hold, nil
}

// NewReconciler wires a reconciler from the work tree's gitmig.yaml, which says where
// the remote and the forge are; each pass then follows the base branch's gitmig.yaml,
// gates included. builder builds the overlays.
func NewReconciler(cfg *config.Config, repoDir string, env Env, now func() time.Time, builder *fleet.Builder) (*Reconciler, error) {
	setup, err := NewSetup(cfg, repoDir, env)
	if err != nil {
		return nil, err
	}
	f, err := setup.Forge(cfg, now)
	if err != nil {
		return nil, err
	}
	return &Reconciler{
		Clone: setup.Clone(now), Forge: f, Now: now, Builder: builder,
		GateFor:  func(cfg *config.Config) (gate.Gate, error) { return Gate(cfg, env) },
		WorkTree: cfg,
	}, nil
}
