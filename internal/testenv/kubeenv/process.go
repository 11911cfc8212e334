package kubeenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// pollInterval is how often Poll and Process.WaitFor check.
const pollInterval = 200 * time.Millisecond

// Process is a program started for a test, in its own process group so that stopping
// it also stops whatever it started (the git and kustomize children of Argo CD's
// repo-server, for one).
type Process struct {
	Name string
	// Log is the file the program's output goes to.
	Log    string
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
	err    error         // its exit status, once exited is closed
}

// StartProcess runs bin with args and env (added to the test's environment), its
// output going to logFile, and stops it when the test ends. When the test has failed,
// the end of the log goes to the test log.
func StartProcess(t testing.TB, name, logFile string, env []string, bin string, args ...string) (*Process, error) {
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), env...)
	// Pdeathsig ends the program when the test binary dies without cleaning up, for
	// example on a test timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Log: logFile, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		// The log's end before the shutdown is what may explain a failure.
		if t.Failed() {
			t.Logf("last lines of %s's log %s:\n%s", name, logFile, p.Tail(20))
		}
		p.Stop()
	})
	return p, nil
}

// Stop ends the process group: SIGTERM first, so that servers shut down cleanly, and
// SIGKILL if it is still there after a few seconds. It may be called more than once.
func (p *Process) Stop() {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
	// Children the leader left behind get no grace.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// Done reports whether the process has exited, and how.
func (p *Process) Done() (bool, error) {
	select {
	case <-p.exited:
		if p.err == nil {
			return true, errors.New("exited")
		}
		return true, p.err
	default:
		return false, nil
	}
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PortInUse reports whether the process died because a port was taken between
// FreePorts and its start.
func (p *Process) PortInUse() bool {
	data, _ := os.ReadFile(p.Log)
	return bytes.Contains(data, []byte("address already in use"))
}

// WaitFor polls check until it returns nil, the process exits, or the timeout passes;
// the error then carries the end of the process's log.
func (p *Process) WaitFor(timeout time.Duration, what string, check func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), pollInterval, timeout, true, func(context.Context) (bool, error) {
		if last = check(); last == nil {
			return true, nil
		}
		if exited, why := p.Done(); exited {
			return false, fmt.Errorf("%s exited before %s: %v; last lines of %s:\n%s", p.Name, what, why, p.Log, p.Tail(20))
		}
		return false, nil
	})
	if err != nil && last != nil && wait.Interrupted(err) {
		return fmt.Errorf("%s: no %s after %s (last error: %v); last lines of %s:\n%s", p.Name, what, timeout, last, p.Log, p.Tail(20))
	}
	return err
}

// Poll calls check every interval until it returns nil, ctx ends or the timeout
// passes, and then says what it waited for and check's last error.
func Poll(ctx context.Context, interval, timeout time.Duration, what string, check func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("no %s after %s: %w", what, timeout, last)
	}
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Listening returns nil once something accepts connections on addr.
func Listening(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
