// Package cmdutil holds what every gitmig command shares: the I/O streams, the global
// --repo and --config flags, and how an error becomes an exit code.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/redact"
	"github.com/gitmig/gitmig/internal/tree"
)

// Streams are where a command reads and writes: data to Out, diagnostics to Err.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams returns the process's standard streams.
func StdStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
}

// Globals are the flags every command accepts.
type Globals struct {
	// Repo is the GitOps repository's work tree.
	Repo string
	// Config is the gitmig.yaml path; <Repo>/gitmig.yaml when empty.
	Config string
}

// AddFlags registers the global flags on cmd's persistent flag set.
func (g *Globals) AddFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&g.Repo, "repo", ".", "the GitOps repository's work tree")
	cmd.PersistentFlags().StringVar(&g.Config, "config", "", "path of gitmig.yaml (default <repo>/gitmig.yaml)")
}

// ConfigPath returns the gitmig.yaml path the flags select.
func (g *Globals) ConfigPath() string {
	if g.Config != "" {
		return g.Config
	}
	return filepath.Join(g.Repo, "gitmig.yaml")
}

// LoadConfig loads and validates the selected gitmig.yaml against the repository tree.
func (g *Globals) LoadConfig() (*config.Config, error) {
	return config.Load(g.ConfigPath(), g.Repo)
}

// SilentError makes the command exit with Code without printing anything more: the
// command has already said what went wrong (verify's findings, for example).
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Main runs a command line and turns its error into an exit code, printing it to
// streams.Err unless it is a SilentError. SIGINT and SIGTERM cancel the context the
// command runs with, so that it stops at a safe point and says what it did; the exit
// code is then 128 plus the signal's number, as a shell reports it. A second signal
// ends the process at once.
func Main(run func(ctx context.Context, args []string, streams Streams) error, args []string, streams Streams) int {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer func() {
		signal.Stop(signals)
		close(signals)
	}()
	go func() {
		sig, ok := <-signals
		if !ok {
			return
		}
		cancel(&Interrupted{Signal: sig.(syscall.Signal)})
		if sig, ok := <-signals; ok {
			os.Exit(128 + int(sig.(syscall.Signal)))
		}
	}()
	return exitCode(run(ctx, args, streams), context.Cause(ctx), streams)
}

// Interrupted is the cause of a command's cancellation by a signal.
type Interrupted struct{ Signal syscall.Signal }

func (e *Interrupted) Error() string { return "interrupted by " + signalName(e.Signal) }

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// exitCode prints err and says how the process ends.
func exitCode(err, cause error, streams Streams) int {
	var interrupted *Interrupted
	if errors.As(cause, &interrupted) {
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(streams.Err, "gitmig:", redact.URL(err.Error()))
		}
		fmt.Fprintf(streams.Err, "gitmig: %v\n", interrupted)
		return 128 + int(interrupted.Signal)
	}
	if err == nil {
		return 0
	}
	var silent *SilentError
	if errors.As(err, &silent) {
		return silent.Code
	}
	// The last line of defence: whatever reached here unredacted loses every
	// credential-shaped part.
	fmt.Fprintln(streams.Err, "gitmig:", redact.URL(err.Error()))
	return 1
}

// WorkTree loads gitmig.yaml and opens the repository work tree on disk.
func (g *Globals) WorkTree() (*config.Config, tree.Tree, error) {
	cfg, err := g.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	t, err := tree.Disk(g.Repo)
	if err != nil {
		return nil, nil, err
	}
	return cfg, t, nil
}

// Builder returns the Builder that builds overlays with the cache the environment
// selects (fleet.CacheDirEnv); when the cache cannot be used it says why on
// streams.Err and builds without one.
func Builder(streams Streams) *fleet.Builder {
	b, err := fleet.BuilderFromEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(streams.Err, "gitmig: warning:", err)
	}
	return b
}

// Model builds every cluster's overlay of the work tree.
func (g *Globals) Model(ctx context.Context, streams Streams) (*fleet.Model, error) {
	cfg, t, err := g.WorkTree()
	if err != nil {
		return nil, err
	}
	return Builder(streams).Load(ctx, t, cfg)
}

// Output validates an -o flag against the formats a command supports.
func Output(value string, formats ...string) error {
	for _, f := range formats {
		if value == f {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q: use one of %v", value, formats)
}

// Context is ctx, or the background context when a caller outside cobra gave none.
func Context(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
