// Package version implements `gitmig version`: the release, commit and date gitmig was
// built from.
package version

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/gitmig/gitmig/internal/cmdutil"
)

// Release builds set these with -ldflags "-X github.com/gitmig/gitmig/internal/cmd/version.version=v1.2.3"
// (hack/release/build.sh). They are package variables because -X can set nothing
// else, and only the linker writes them; empty, Get falls back to the build info.
var (
	version string
	commit  string
	date    string
)

// Info is what a gitmig binary was built from.
type Info struct {
	// Version is the release or module version, "devel" when unknown.
	Version string
	// Commit is the git commit, "unknown" when not recorded.
	Commit string
	// Modified marks a build from a work tree with uncommitted changes.
	Modified bool
	// Date is the commit's time, RFC 3339, "unknown" when not recorded.
	Date string
	// Go and Platform are the toolchain and GOOS/GOARCH of the build.
	Go       string
	Platform string
}

// NewCmd returns the version command.
func NewCmd(streams cmdutil.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gitmig's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return Write(streams.Out, Get())
		},
	}
}

// Get returns the running binary's Info.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, date, bi)
}

// resolve prefers the values a release build set with -ldflags and takes the rest from
// the build info the Go toolchain records: the module version under `go install
// module@version`, the VCS revision and time in a build from a clone.
func resolve(ldVersion, ldCommit, ldDate string, bi *debug.BuildInfo) Info {
	info := Info{Version: "devel", Commit: "unknown", Date: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		info.Version = ldVersion
	}
	if ldCommit != "" {
		// A release is built from a clean checkout of its tag.
		info.Commit, info.Modified = ldCommit, false
	}
	if ldDate != "" {
		info.Date = ldDate
	}
	return info
}

// Write prints info, one field a line.
func Write(w io.Writer, info Info) error {
	commit := info.Commit
	if info.Modified {
		commit += " (modified)"
	}
	_, err := fmt.Fprintf(w, "gitmig %s\ncommit: %s\ndate:   %s\ngo:     %s %s\n", info.Version, commit, info.Date, info.Go, info.Platform)
	return err
}
