package dataplane

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// namePrefix starts the name of every network namespace the harness makes; the pid of
// the test binary follows, so that a later run can tell a leftover of a killed run.
const namePrefix = "gmdp"

// netns is a named network namespace (ip netns add) that the test made.
type netns struct {
	name string
	file *os.File // held open for setns
}

func newNetns(name string) (*netns, error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	f, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		_ = exec.Command("ip", "netns", "delete", name).Run()
		return nil, err
	}
	return &netns{name: name, file: f}, nil
}

// delete removes the namespace, and with it its interfaces, addresses, routes and
// firewall rules.
func (n *netns) delete() error {
	n.file.Close()
	if out, err := exec.Command("ip", "netns", "delete", n.name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", n.name, err, out)
	}
	return nil
}

// ip runs `ip -n <namespace> args...`.
func (n *netns) ip(args ...string) error {
	args = append([]string{"-n", n.name}, args...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// command is the argument list that runs bin with args inside the namespace.
func (n *netns) command(bin string, args ...string) []string {
	return append([]string{"netns", "exec", n.name, bin}, args...)
}

// do runs f on an OS thread that has entered the namespace. A socket keeps the
// namespace it was created in, so listeners and connections made by f work from any
// goroutine afterwards. The thread goes back to the test's namespace before other
// goroutines may run on it. It must not end instead, as Go would end a locked one:
// the programs a thread started get SIGKILL when it ends (kubeenv's Pdeathsig).
func (n *netns) do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer home.Close()
		if err := unix.Setns(int(n.file.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread() // still in the test's namespace
			errc <- fmt.Errorf("entering %s: %w", n.name, err)
			return
		}
		err = f()
		if unix.Setns(int(home.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listen is net.Listen inside the namespace.
func (n *netns) listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// dial is net.Dialer.DialContext from inside the namespace.
func (n *netns) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() (err error) {
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// removeStale deletes the namespaces left by runs whose test binary is gone, which
// a killed run never cleaned up.
func removeStale() error {
	entries, err := os.ReadDir("/var/run/netns")
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || syscall.Kill(pid, 0) == nil {
			continue
		}
		if out, err := exec.Command("ip", "netns", "delete", e.Name()).CombinedOutput(); err != nil {
			return fmt.Errorf("removing stale namespace %s: %v: %s", e.Name(), err, out)
		}
	}
	return nil
}
