// Package build implements `gitmig build CLUSTER`: the kustomize build of one overlay.
package build

import (
	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
)

// Options are the inputs of the build command.
type Options struct {
	Globals *cmdutil.Globals
	Streams cmdutil.Streams
	Cluster string
}

// NewCmd returns the build command.
func NewCmd(streams cmdutil.Streams, g *cmdutil.Globals) *cobra.Command {
	opts := &Options{Globals: g, Streams: streams}
	return &cobra.Command{
		Use:   "build CLUSTER",
		Short: "Print the kustomize build of one cluster's overlay",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Cluster = args[0]
			return Run(opts)
		},
	}
}

// Run builds the overlay and writes its YAML to standard output.
func Run(opts *Options) error {
	_, repo, err := opts.Globals.Repository()
	if err != nil {
		return err
	}
	b, err := repo.Build(opts.Cluster)
	if err != nil {
		return err
	}
	_, err = opts.Streams.Out.Write(b.YAML)
	return err
}
