package reconcile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/cmdutil"
)

// A signal during --interval ends the loop at once, after the pass under way has
// written its summary, and Run says why.
func TestIntervalStopsOnSignal(t *testing.T) {
	repo, _, metrics, at := fleet(t)
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := func(name string) string {
		if name == StepSummaryEnv {
			return summary
		}
		return os.Getenv(name)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, &Options{
			Globals:  &cmdutil.Globals{Repo: repo},
			Streams:  cmdutil.Streams{Out: &out, Err: &out},
			Metrics:  cmdutil.MetricsFlags{Metrics: metrics},
			Interval: time.Hour,
			Env:      env,
			Now:      func() time.Time { return at },
		})
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if data, _ := os.ReadFile(summary); strings.Contains(string(data), "## gitmig reconcile") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no pass wrote its summary")
		}
		time.Sleep(50 * time.Millisecond)
	}
	interrupted := &cmdutil.Interrupted{Signal: syscall.SIGTERM}
	cancel(interrupted)
	select {
	case err := <-done:
		if !errors.Is(err, interrupted) {
			t.Errorf("Run returned %v, want the interruption", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the loop did not stop on the signal")
	}
	data, _ := os.ReadFile(summary)
	if n := strings.Count(string(data), "## gitmig reconcile"); n != 1 {
		t.Errorf("%d pass summaries, want the one pass before the signal", n)
	}
}
