// Package cmdutil holds what every gitmig command shares: the I/O streams, the global
// --repo and --config flags, and how an error becomes an exit code.
package cmdutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/render"
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
// streams.Err unless it is a SilentError.
func Main(run func(args []string, streams Streams) error, args []string, streams Streams) int {
	err := run(args, streams)
	if err == nil {
		return 0
	}
	var silent *SilentError
	if errors.As(err, &silent) {
		return silent.Code
	}
	fmt.Fprintln(streams.Err, "gitmig:", err)
	return 1
}

// Repository loads gitmig.yaml and opens the repository work tree on disk.
func (g *Globals) Repository() (*config.Config, *render.Repo, error) {
	cfg, err := g.LoadConfig()
	if err != nil {
		return nil, nil, err
	}
	root, err := filepath.Abs(g.Repo)
	if err != nil {
		return nil, nil, err
	}
	return cfg, render.NewRepo(filesys.MakeFsOnDisk(), root, cfg), nil
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
