// Package serve implements `gitmig serve`: gitmig as a long-running controller in the
// management cluster, passing when something a migration waits for changes.
package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitmig/gitmig/internal/cmd/reconcile"
	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/runner"
	"github.com/gitmig/gitmig/internal/gitops/server"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/report"
	"github.com/gitmig/gitmig/internal/text"
)

// Options are the inputs of the serve command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Metrics cmdutil.MetricsFlags
	// Listen is the HTTP address; empty serves nothing. Listener, when set, is used
	// instead (tests listen on a free port).
	Listen   string
	Listener net.Listener
	// Interval is the safety net: a pass at least this often, whatever else happens.
	Interval time.Duration
	// Timeout bounds each pass.
	Timeout   time.Duration
	DryRun    bool
	LogFormat string

	LeaderElect    bool
	LeaseNamespace string
	LeaseName      string
	Kubeconfig     string
	// Identity names this replica in the Lease; the host name and a random suffix
	// when empty.
	Identity string
	// Lease timings; client-go's defaults for controllers when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KeepLeaseOnExit leaves the Lease held at shutdown, as a crash does: the next
	// leader then waits for it to expire. Tests use it to kill a leader.
	KeepLeaseOnExit bool

	Env gitops.Env
	Now func() time.Time
}

// DefaultInterval is the safety net's period: events start passes within seconds,
// this catches what no event announced (a Prometheus gate's metrics, a lost webhook).
const DefaultInterval = 10 * time.Minute

// NewCmd returns the serve command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams, Env: os.Getenv, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR] [--interval D] [--leader-elect --lease-namespace NS]",
		Short: "Run passes whenever something a migration waits for changes, as a controller",
		Long: `serve runs reconcile passes for as long as it lives: at once when a watched Argo CD
Application or Flux Kustomization changes, when GitHub reports a merged or closed
gitmig pull request or a push to the base branch (POST /webhooks/github, signed with
$` + server.WebhookSecretEnv + `), when a wait on the clock ends, and every --interval
as a safety net. --listen serves /healthz, /readyz, /metrics and the webhook. With
--leader-elect, replicas share a coordination.k8s.io Lease and only the leader acts.
SIGTERM stops the pass under way at its next safe point, and releases the Lease.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return Run(cmd.Context(), opts) },
	}
	opts.Metrics.AddFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&opts.Listen, "listen", ":8080", "HTTP address of /healthz, /readyz, /metrics and /webhooks/github; empty for none")
	f.DurationVar(&opts.Interval, "interval", DefaultInterval, "pass at least this often, whatever else happens")
	f.DurationVar(&opts.Timeout, "timeout", reconcile.DefaultTimeout, "give up a pass that takes longer; the next one carries on")
	f.BoolVar(&opts.DryRun, "dry-run", false, "log what each pass would do without doing it")
	f.StringVar(&opts.LogFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&opts.LeaderElect, "leader-elect", false, "act only while holding the Lease, so that replicas never act at once")
	f.StringVar(&opts.LeaseNamespace, "lease-namespace", "", "namespace of the Lease (default $POD_NAMESPACE)")
	f.StringVar(&opts.LeaseName, "lease-name", "gitmig", "name of the Lease")
	f.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster holding the Lease (default $KUBECONFIG, then the pod's service account)")
	return cmd
}

// Run serves until ctx ends.
func Run(ctx context.Context, opts *Options) error {
	ctx = cmdutil.Context(ctx)
	if err := cmdutil.Output(opts.LogFormat, "text", "json"); err != nil {
		return fmt.Errorf("--log-format: %w", err)
	}
	log := logger(opts)
	if opts.Timeout <= 0 {
		opts.Timeout = reconcile.DefaultTimeout
	}
	r, cfg, err := opts.Globals.Reconciler(opts.Streams, opts.Env, opts.Now, &opts.Metrics)
	if err != nil {
		return err
	}
	r.DryRun = opts.DryRun
	s := server.Options{
		Secret:   []byte(opts.Env(server.WebhookSecretEnv)),
		Branch:   cfg.GitOps.Branch,
		Interval: opts.Interval,
		Pass: func(ctx context.Context) (*report.Report, error) {
			ctx, cancel := context.WithTimeoutCause(ctx, opts.Timeout, fmt.Errorf("the pass took longer than --timeout %s", opts.Timeout))
			defer cancel()
			return r.Pass(ctx)
		},
		Watch: func(ctx context.Context, run *runner.Runner) (func(runner.Result), <-chan struct{}, error) {
			run.Clock = reconcile.Clock(opts.Now)
			w, err := reconcile.Watch(ctx, cfg, run, log)
			if err != nil {
				return nil, nil, err
			}
			return func(res runner.Result) {
				logActions(log, res.Report)
				reconcile.AfterPass(w, log, res)
			}, w.Synced(), nil
		},
		Log: log,
	}
	if len(s.Secret) == 0 {
		log.Warn("$" + server.WebhookSecretEnv + " is not set: every webhook delivery is refused")
	}
	if s.Election, err = election(opts); err != nil {
		return err
	}
	s.Listener = opts.Listener
	if s.Listener == nil && opts.Listen != "" {
		if s.Listener, err = net.Listen("tcp", opts.Listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	return server.Run(ctx, s)
}

// logActions logs what a pass did, one line per action as `reconcile` prints them:
// serve prints no pass summary, and the log is where an operator sees which pull
// request opened when.
func logActions(log *slog.Logger, rep *report.Report) {
	if rep == nil {
		return
	}
	for _, a := range rep.Actions {
		log.Info("action", "kind", a.Kind, "migration", a.Migration, "detail", text.Printable(a.Detail), "dryRun", a.DryRun)
	}
}

func logger(opts *Options) *slog.Logger {
	if opts.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(opts.Streams.Err, nil))
	}
	return slog.New(slog.NewTextHandler(opts.Streams.Err, nil))
}

// election is the Lease the replicas share, or nil without --leader-elect.
func election(opts *Options) (*server.Election, error) {
	if !opts.LeaderElect {
		return nil, nil
	}
	namespace := opts.LeaseNamespace
	if namespace == "" {
		namespace = opts.Env("POD_NAMESPACE")
	}
	if namespace == "" {
		return nil, fmt.Errorf("--leader-elect needs --lease-namespace (or $POD_NAMESPACE)")
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %s", redact.URL(err.Error()))
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig: %s", redact.URL(err.Error()))
	}
	identity := opts.Identity
	if identity == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		identity = host + "_" + hex.EncodeToString(suffix)
	}
	return &server.Election{
		Client: client, Namespace: namespace, Name: opts.LeaseName, Identity: identity,
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod,
		ReleaseOnCancel: !opts.KeepLeaseOnExit,
	}, nil
}
