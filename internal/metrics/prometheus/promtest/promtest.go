// Package promtest runs a real Prometheus server for tests, loaded with series the test
// writes: they are backfilled as OpenMetrics with `promtool tsdb create-blocks-from
// openmetrics` and queried at the backfilled time.
//
// The binaries come from the Debian package prometheus. Without them a test skips with
// a message saying so, except in CI (CI=true), where it fails.
package promtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Family is one metric family. Name is the name its samples carry, such as
// container_cpu_usage_seconds_total; Type is counter or gauge.
type Family struct {
	Name   string
	Type   string
	Help   string
	Series []Series
}

// Series is one time series: its labels and its samples, in time order.
type Series struct {
	Labels  map[string]string
	Samples []Sample
}

// Sample is one value at one time.
type Sample struct {
	Time  time.Time
	Value float64
}

// OpenMetrics writes the families in the OpenMetrics text format that promtool
// backfills, families and labels in name order.
func OpenMetrics(families []Family) []byte {
	var b bytes.Buffer
	sorted := append([]Family(nil), families...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, f := range sorted {
		// A counter family is named without the _total its samples carry.
		name := f.Name
		if f.Type == "counter" {
			name = strings.TrimSuffix(name, "_total")
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, f.Type)
		if f.Help != "" {
			fmt.Fprintf(&b, "# HELP %s %s\n", name, f.Help)
		}
		for _, s := range f.Series {
			labels := labelText(s.Labels)
			for _, p := range s.Samples {
				fmt.Fprintf(&b, "%s%s %s %s\n", f.Name, labels,
					strconv.FormatFloat(p.Value, 'g', -1, 64),
					strconv.FormatFloat(float64(p.Time.UnixMilli())/1000, 'f', -1, 64))
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.Bytes()
}

func labelText(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	escape := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	for i, n := range names {
		parts[i] = fmt.Sprintf(`%s="%s"`, n, escape.Replace(labels[n]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Require skips the test when prometheus or promtool is missing, or fails it in CI.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("%s is not installed (Debian package prometheus: apt-get install -y prometheus): %v", bin, err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// Server is a running Prometheus.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234.
	URL string
	cmd *exec.Cmd
	log *syncBuffer
}

// Start backfills openMetrics into a fresh data directory and starts Prometheus on a
// free loopback port. The server is stopped when the test ends.
func Start(t testing.TB, openMetrics []byte) *Server {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	input := filepath.Join(dir, "series.om")
	data := filepath.Join(dir, "data")
	if err := os.WriteFile(input, openMetrics, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", input, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	configFile := filepath.Join(dir, "prometheus.yml")
	// No scrape jobs: the backfilled blocks are all the data.
	if err := os.WriteFile(configFile, []byte("global: {}\nscrape_configs: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddress(t)
	s := &Server{URL: "http://" + addr, log: &syncBuffer{}}
	s.cmd = exec.Command("prometheus",
		"--config.file="+configFile,
		"--storage.tsdb.path="+data,
		// Backfilled blocks hours old must outlive the retention check.
		"--storage.tsdb.retention.time=100y",
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t, exited) })
	s.waitReady(t, exited)
	return s
}

func (s *Server) waitReady(t testing.TB, exited <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited before it was ready: %v\n%s", err, s.log)
		case <-ctx.Done():
			t.Fatalf("prometheus at %s not ready after 60s\n%s", s.URL, s.log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Server) stop(t testing.TB, exited <-chan error) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-exited
		t.Logf("prometheus did not stop on SIGINT within 15s; killed\n%s", s.log)
	}
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string { return s.log.String() }

// FreeAddress returns a loopback address with a port nothing listens on, for servers
// that must be unreachable.
func FreeAddress(t testing.TB) string { return freeAddress(t) }

func freeAddress(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a process's output, written from its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
