package reconcile

import (
	"errors"
	"fmt"
	"os"

	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/present"
	"github.com/gitmig/gitmig/internal/report"
)

// StepSummaryEnv names the file a GitHub Actions step appends Markdown to, shown on the
// run's summary page.
const StepSummaryEnv = "GITHUB_STEP_SUMMARY"

// appendSummary appends the pass's Markdown summary to the file that StepSummaryEnv
// names in env; it does nothing when the variable is unset, as outside GitHub Actions.
func appendSummary(env gitops.Env, rep *report.Report, dryRun bool, passErr error) error {
	if env == nil {
		return nil
	}
	path := env(StepSummaryEnv)
	if path == "" {
		return nil
	}
	// Append: other steps of the job write to the same file, and an --interval loop
	// adds one section per pass.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("writing the step summary (%s): %w", StepSummaryEnv, err)
	}
	werr := present.Summary(f, rep, dryRun, passErr)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("writing the step summary %s: %w", path, err)
	}
	return nil
}
