package version

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	clone := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/gitmig/gitmig", Version: "v0.1.1-0.20260504090000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-05-04T09:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name                  string
		ldVersion, ldCommit   string
		ldDate                string
		bi                    *debug.BuildInfo
		version, commit, date string
		modified              bool
	}{
		{
			name:      "release build",
			ldVersion: "v1.2.3", ldCommit: "fedcba9876543210fedcba9876543210fedcba98", ldDate: "2026-06-01T12:00:00Z",
			bi:      clone,
			version: "v1.2.3", commit: "fedcba9876543210fedcba9876543210fedcba98", date: "2026-06-01T12:00:00Z",
		},
		{
			name:    "go install module@version",
			bi:      &debug.BuildInfo{Main: debug.Module{Path: "github.com/gitmig/gitmig", Version: "v1.2.3"}},
			version: "v1.2.3", commit: "unknown", date: "unknown",
		},
		{
			name:    "go build in a clone with changes",
			bi:      clone,
			version: "v0.1.1-0.20260504090000-0123456789ab+dirty", commit: "0123456789abcdef0123456789abcdef01234567", date: "2026-05-04T09:00:00Z", modified: true,
		},
		{
			name:    "go build without VCS stamping",
			bi:      &debug.BuildInfo{Main: debug.Module{Path: "github.com/gitmig/gitmig", Version: "(devel)"}},
			version: "devel", commit: "unknown", date: "unknown",
		},
		{
			name:    "no build info",
			version: "devel", commit: "unknown", date: "unknown",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := resolve(tc.ldVersion, tc.ldCommit, tc.ldDate, tc.bi)
			if got.Version != tc.version || got.Commit != tc.commit || got.Date != tc.date || got.Modified != tc.modified {
				t.Errorf("got version %q commit %q date %q modified %v, want %q %q %q %v",
					got.Version, got.Commit, got.Date, got.Modified, tc.version, tc.commit, tc.date, tc.modified)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, Info{Version: "v1.2.3", Commit: "abc", Modified: true, Date: "2026-05-04T09:00:00Z", Go: "go1.26.0", Platform: "linux/arm64"}); err != nil {
		t.Fatal(err)
	}
	want := "gitmig v1.2.3\ncommit: abc (modified)\ndate:   2026-05-04T09:00:00Z\ngo:     go1.26.0 linux/arm64\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestReleaseArchive builds this machine's release archive with hack/release/build.sh,
// as the release workflow does for each target, and checks the archive, its checksum
// and what the binary in it says about itself.
func TestReleaseArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gitmig: skipped with -short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	const (
		release = "v9.8.7"
		commit  = "0123456789abcdef0123456789abcdef01234567"
		date    = "2026-05-04T09:00:00Z"
	)
	dist := t.TempDir()
	target := runtime.GOOS + "/" + runtime.GOARCH
	cmd := exec.Command("bash", "../../../hack/release/build.sh", "archives", target)
	cmd.Env = append(os.Environ(), "VERSION="+release, "COMMIT="+commit, "DATE="+date, "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh archives %s: %v\n%s", target, err, out)
	}

	name := "gitmig_" + release + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	archive, err := os.ReadFile(filepath.Join(dist, name))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "gitmig_"+release+"_checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	if want := hex.EncodeToString(sum[:]) + "  " + name + "\n"; string(sums) != want {
		t.Errorf("checksums file:\n%s\nwant\n%s", sums, want)
	}

	files := untar(t, archive)
	if _, ok := files["README.md"]; !ok {
		t.Error("the archive has no README.md")
	}
	binary, ok := files["gitmig"]
	if !ok {
		t.Fatalf("the archive has no gitmig binary, only %v", files)
	}
	path := filepath.Join(t.TempDir(), "gitmig")
	if err := os.WriteFile(path, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("gitmig version: %v\n%s", err, out)
	}
	for _, want := range []string{"gitmig " + release + "\n", "commit: " + commit + "\n", "date:   " + date + "\n", " " + target + "\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("gitmig version printed\n%s\nwant a line with %q", out, want)
		}
	}
}

// untar returns the regular files of a .tar.gz by name, and checks that every entry
// has the fixed owner the release archives are made with.
func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			if files[h.Name], err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
}
