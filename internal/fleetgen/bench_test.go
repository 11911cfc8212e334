package fleetgen

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/tree"
)

// BenchmarkCLI times the gitmig commands as a user runs them, each a process of the
// built binary, on generated fleets: plan and verify on the work tree, a reconcile
// pass that opens step 1 of a planned migration on a fresh remote, and a steady pass
// that finds that migration waiting for review (policy.maxConcurrent is 1, so it
// neither plans nor builds); each with the build cache empty (cold) and filled by an
// earlier run (warm). Beside them, the kustomize CLI builds every overlay of the same
// fleet, one process per overlay, as a user of kustomize alone would.
//
// Each op reports its wall time and, as MiB-peak, the largest resident set of its
// processes. Run with -benchtime=1x and -count=3 or more; docs/performance.md shows
// the numbers and the command.
func BenchmarkCLI(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "gitmig")
	build := exec.Command("go", "build", "-o", bin, "github.com/gitmig/gitmig/cmd/gitmig")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building gitmig: %v\n%s", err, out)
	}
	for _, size := range []struct{ services, clusters int }{{1000, 100}, {5000, 100}, {1000, 300}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.clusters), func(b *testing.B) {
			f := newBenchFleet(b, bin, Params{Services: size.services, Clusters: size.clusters, RoutedEvery: 3, Overloaded: 6})
			for _, cmd := range []struct {
				name string
				args []string
				// fresh gives each op a remote with no migration yet.
				fresh bool
			}{
				{"plan", []string{"plan", "--metrics", "metrics.yaml"}, false},
				{"verify", []string{"verify"}, false},
				{"pass-opens-step", []string{"reconcile", "--once", "--metrics", "metrics.yaml"}, true},
				{"pass-steady", []string{"reconcile", "--once", "--metrics", "metrics.yaml"}, false},
			} {
				for _, warm := range []bool{false, true} {
					name := cmd.name + "/cold"
					if warm {
						name = cmd.name + "/warm"
					}
					b.Run(name, func(b *testing.B) { f.bench(b, cmd.args, cmd.fresh, warm) })
				}
			}
			b.Run("kustomize-cli", f.benchKustomize)
		})
	}
}

// benchFleet is a generated fleet's work tree, its remote as seeded, and a cache.
type benchFleet struct {
	bin      string
	dir      string
	pristine string
	cache    string
}

func newBenchFleet(b *testing.B, bin string, p Params) *benchFleet {
	b.Helper()
	root := b.TempDir()
	f := &benchFleet{bin: bin, dir: filepath.Join(root, "fleet"), pristine: filepath.Join(root, "pristine.git"), cache: filepath.Join(root, "cache")}
	// The remote sits beside the work tree, where no command reads it as a file.
	p.Remote = "../remote.git"
	fleet, err := Generate(p)
	if err != nil {
		b.Fatal(err)
	}
	if err := fleet.WriteDir(f.dir); err != nil {
		b.Fatal(err)
	}
	files, err := tree.Disk(f.dir)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := workspace.Seed(f.pristine, "main", files, "gitmig", "gitmig@localhost", time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	// Seed writes every object loose. A served remote keeps its objects packed (git gc
	// packs them, and so does every hosting service), and git-upload-pack would
	// otherwise deflate all of the fleet's 18,000 objects again for each clone, in a
	// process of its own: most of a steady pass, and a cost no real remote has. And
	// git receive-pack may start a gc in the background, which would still be writing
	// in the remote while the next op replaces it.
	for _, args := range [][]string{{"repack", "-a", "-d", "-q"}, {"config", "receive.autogc", "false"}} {
		if out, err := exec.Command("git", append([]string{"-C", f.pristine}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	f.resetRemote(b)
	// The steady pass finds the migration that this first pass opens.
	f.run(b, "reconcile", "--once", "--metrics", "metrics.yaml")
	return f
}

// resetRemote puts the seeded remote, with no migration, where gitmig.yaml says.
func (f *benchFleet) resetRemote(b *testing.B) {
	b.Helper()
	remote := filepath.Join(filepath.Dir(f.dir), "remote.git")
	if err := os.RemoveAll(remote); err != nil {
		b.Fatal(err)
	}
	if err := os.CopyFS(remote, os.DirFS(f.pristine)); err != nil {
		b.Fatal(err)
	}
}

// run runs the gitmig binary in the fleet's work tree and returns its peak RSS.
func (f *benchFleet) run(b *testing.B, args ...string) int64 {
	b.Helper()
	cmd := exec.Command(f.bin, args...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "GITMIG_CACHE_DIR="+f.cache)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		b.Fatalf("gitmig %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return maxRSS(cmd)
}

func maxRSS(cmd *exec.Cmd) int64 {
	if usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return usage.Maxrss << 10 // kilobytes on Linux
	}
	return 0
}

func (f *benchFleet) bench(b *testing.B, args []string, fresh, warm bool) {
	if warm {
		if fresh {
			f.resetRemote(b)
		}
		f.run(b, args...)
	}
	var peak int64
	for b.Loop() {
		b.StopTimer()
		if fresh {
			f.resetRemote(b)
		}
		if !warm {
			if err := os.RemoveAll(f.cache); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		peak = max(peak, f.run(b, args...))
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak")
}

// benchKustomize builds every overlay with the kustomize CLI, found in PATH or where
// hack/engines/build.sh puts it.
func (f *benchFleet) benchKustomize(b *testing.B) {
	kustomize, err := exec.LookPath("kustomize")
	if err != nil {
		home, _ := os.UserHomeDir()
		cache := cmp.Or(os.Getenv("GITMIG_E2E_CACHE"), filepath.Join(home, ".cache", "gitmig-e2e"))
		matches, _ := filepath.Glob(filepath.Join(cache, "kustomize-*", "kustomize"))
		if len(matches) == 0 {
			b.Skip("no kustomize CLI: put one in PATH, or run `bash hack/engines/build.sh kustomize`")
		}
		kustomize = matches[len(matches)-1]
	}
	overlays, err := filepath.Glob(filepath.Join(f.dir, "clusters", "*"))
	if err != nil || len(overlays) == 0 {
		b.Fatalf("no overlays in %s: %v", f.dir, err)
	}
	var peak int64
	for b.Loop() {
		for _, overlay := range overlays {
			cmd := exec.Command(kustomize, "build", overlay)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("kustomize build %s: %v\n%s", overlay, err, out)
			}
			peak = max(peak, maxRSS(cmd))
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-peak")
}
