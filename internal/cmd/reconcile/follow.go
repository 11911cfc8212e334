package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/utils/clock"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/runner"
	"github.com/gitmig/gitmig/internal/gitops/watch"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/report"
)

// follow runs passes until none is pending or --timeout: at once when the watcher
// reports a change a gate reads, when a wait on the clock ends, or when a pass merged
// a step itself. Each pass writes its summary, as a --once pass does.
func follow(ctx context.Context, opts *Options, cfg *config.Config, pass func() (*report.Report, error)) error {
	log := slog.New(slog.NewTextHandler(opts.Streams.Err, nil))
	run := &runner.Runner{
		Pass:      func(context.Context) (*report.Report, error) { return pass() },
		UntilIdle: true,
		Until:     opts.Now().Add(opts.Timeout),
		Interval:  followSafetyNet,
		Clock:     Clock(opts.Now),
	}
	w, err := Watch(ctx, cfg, run, log)
	if err != nil {
		return err
	}
	run.AfterPass = func(res runner.Result) {
		AfterPass(w, log, res)
		if err := appendSummary(opts.Env, res.Report, opts.DryRun, res.Err); err != nil {
			log.Warn("writing the step summary", "err", err)
		}
	}
	err = run.Run(ctx)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("following: %w", err)
	}
	return err
}

// followSafetyNet is how long a follow waits for an event before passing anyway: a
// watch the kubeconfig may not make (no list or watch verb) or a change no informer
// sees (a Prometheus gate's metrics) then costs a minute, not the rest of the follow.
const followSafetyNet = time.Minute

// Watch starts the informers on what the gates read, each change requesting a pass;
// the watch ends with ctx. The first pass does not wait for the informers' first
// list: a kubeconfig without list and watch would hold every run up, and a change
// between that pass's reads and the list is seen by the next pass, at the latest on
// the safety net's timer. The watcher logs a watch it cannot make.
func Watch(ctx context.Context, cfg *config.Config, run *runner.Runner, log *slog.Logger) (*watch.Watcher, error) {
	w, err := watch.New(cfg, watch.Options{
		OnChange: func(c watch.Change) {
			log.Info("changed", "cluster", c.Cluster, "object", c.Object)
			run.Request(runner.TriggerWatch)
		},
		Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("watching the gates: %w", err)
	}
	go w.Run(ctx)
	return w, nil
}

// AfterPass logs a pass and points the watcher at the migrations it left in flight.
func AfterPass(w *watch.Watcher, log *slog.Logger, res runner.Result) {
	attrs := []any{"triggers", res.Triggers, "duration", res.Duration.Round(time.Millisecond)}
	if res.Report != nil {
		w.Focus(watch.Targets(res.Report))
		attrs = append(attrs, "migrations", len(res.Report.Migrations), "pending", len(res.Report.Pending()), "actions", len(res.Report.Actions))
	}
	if res.Err != nil {
		log.Error("pass failed", append(attrs, "err", redact.URL(res.Err.Error()))...)
		return
	}
	log.Info("pass", attrs...)
}

// Clock is the real clock's timers with now's time, the clock the passes judge by, so
// that a wait on it ends when the gate will see it ended.
func Clock(now func() time.Time) clock.WithTicker {
	if now == nil {
		return clock.RealClock{}
	}
	return nowClock{now: now}
}

type nowClock struct {
	clock.RealClock
	now func() time.Time
}

func (c nowClock) Now() time.Time                  { return c.now() }
func (c nowClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
