package cmdutil

import (
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
)

// Reconciler wires the reconciler that the commands acting on the remote run: the work
// tree's gitmig.yaml says where the remote and the forge are, and each pass then
// follows the base branch's. With metrics, each pass reads them with its own
// gitmig.yaml's queries, at metrics.Time when it is set. It returns the work tree's
// gitmig.yaml too.
func (g *Globals) Reconciler(streams Streams, env gitops.Env, now func() time.Time, metrics *MetricsFlags) (*gitops.Reconciler, *config.Config, error) {
	cfg, err := g.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	r, err := gitops.NewReconciler(cfg, g.Repo, env, now, Builder(streams))
	if err != nil {
		return nil, nil, err
	}
	if metrics == nil {
		return r, cfg, nil
	}
	r.MetricsFor = metrics.Source
	if metrics.Time != "" {
		if r.At, err = metrics.EvaluationTime(now()); err != nil {
			return nil, nil, err
		}
	}
	return r, cfg, nil
}
