package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/step"
)

// runStepBranch checks a step pull request's branch against the step gitmig writes,
// reading the work tree's git repository only.
func runStepBranch(ctx context.Context, opts *Options) error {
	cfg, err := opts.Globals.LoadConfig()
	if err != nil {
		return err
	}
	ws, err := workspace.Open(opts.Globals.Repo, cfg.GitOps.Branch)
	if err != nil {
		return err
	}
	head, branch, err := ws.Resolve(opts.StepBranch, step.BranchPrefix)
	if err != nil {
		return fmt.Errorf("--step-branch: %w", err)
	}
	link, err := headURL(cfg, opts.Globals.Repo)
	if err != nil {
		return err
	}
	check, err := gitops.CheckStepBranch(ctx, ws, cmdutil.Builder(opts.Streams), branch, head, link)
	if err != nil {
		return fmt.Errorf("--step-branch: %w", err)
	}
	out := opts.Streams.Out
	switch {
	case opts.Output == "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"stepBranch": check}); err != nil {
			return err
		}
	case check.Skipped != "":
		fmt.Fprintf(out, "not checked: %s (%s): %s\n", branch, short(head), check.Skipped)
	case len(check.Problems) == 0:
		fmt.Fprintf(out, "ok: %s (%s) is exactly step %s of %s on %s at %s\n", branch, short(head), check.Step, check.Migration, cfg.GitOps.Branch, short(check.Base))
	default:
		for _, p := range check.Problems {
			fmt.Fprintf(out, "%s: %s\n", branch, p)
		}
	}
	if len(check.Problems) > 0 {
		return fmt.Errorf("verify --step-branch: %s is not the step gitmig writes: %d problem(s)", branch, len(check.Problems))
	}
	return nil
}

// headURL is the forge's link to a branch's pull request, which gitmig writes into each
// step's objects. It needs no credentials: the forge is asked for an address and never
// called, so the GitHub forge is made without the token the CI job does not have.
func headURL(cfg *config.Config, repoDir string) (func(string) string, error) {
	setup := &gitops.Setup{Remote: cfg.GitOps.Remote, Branch: cfg.GitOps.Branch}
	if cfg.GitOps.Forge != config.ForgeGitHub {
		// The local forge's link is its remote, resolved against the work tree.
		var err error
		if setup, err = gitops.NewSetup(cfg, repoDir, func(string) string { return "" }); err != nil {
			return nil, err
		}
	}
	f, err := setup.Forge(cfg, time.Now)
	if err != nil {
		return nil, err
	}
	return f.HeadURL, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
