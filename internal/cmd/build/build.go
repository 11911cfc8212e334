// Package build implements `gitmig build CLUSTER`: the kustomize build of one overlay.
package build

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
	"github.com/gitmig/gitmig/internal/fleet"
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
	cfg, t, err := opts.Globals.WorkTree()
	if err != nil {
		return err
	}
	cl, ok := cfg.Cluster(opts.Cluster)
	if !ok {
		return fmt.Errorf("unknown cluster %q: gitmig.yaml defines %s", opts.Cluster, strings.Join(cfg.ClusterNames(), ", "))
	}
	yml, err := fleet.NewBuilder(nil, 1).BuildYAML(t, cl.Path)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", cl.Name, err)
	}
	_, err = opts.Streams.Out.Write(yml)
	return err
}
