// Package version implements `gitmig version`.
package version

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
)

// NewCmd returns the version command.
func NewCmd(streams cmdutil.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gitmig's version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(streams.Out, "gitmig %s\n", Version())
			return err
		},
	}
}

// Version is the module version gitmig was built from, or "devel" in a work tree.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok || info.Main.Version == "" || info.Main.Version == "(devel)" {
		return "devel"
	}
	return info.Main.Version
}
