package engines

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// process is a program started for a test, in its own process group so that stopping
// it also stops whatever it started (the git and kustomize children of Argo CD's
// repo-server, for one).
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{} // closed once the process has exited
	err    error         // its exit status, once exited is closed
}

// start runs bin with args and env (added to the test's environment), its output
// going to logFile, and stops it when the test ends. When the test has failed, the
// end of the log goes to the test log.
func start(t testing.TB, name, logFile string, env []string, bin string, args ...string) (*process, error) {
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
	p := &process{name: name, cmd: cmd, log: logFile, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last lines of %s's log %s:\n%s", name, logFile, p.tail(20))
		}
		p.stop()
	})
	return p, nil
}

// stop ends the process group: SIGTERM first, SIGKILL after a few seconds.
func (p *process) stop() {
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.exited
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
}

// done reports whether the process has exited, and how.
func (p *process) done() (bool, error) {
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

// tail returns the last n lines of the process's log.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls check until it returns nil, the process exits or the timeout passes.
func (p *process) waitFor(timeout time.Duration, what string, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if exited, why := p.done(); exited {
			return fmt.Errorf("%s exited before %s: %v; last lines of %s:\n%s", p.name, what, why, p.log, p.tail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s after %s (last error: %v); last lines of %s:\n%s", p.name, what, timeout, err, p.log, p.tail(20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
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

// listening reports an error until something accepts connections on addr.
func listening(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func mkdir(dir string) error {
	return os.MkdirAll(dir, 0o700)
}
