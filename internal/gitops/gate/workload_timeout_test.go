package gate

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/gitmig/gitmig/internal/config"
)

// TestSilentAPIServerFailsTheCheck: an API server that accepts connections and never
// answers fails the gate's check with an error once the request's deadline passes; it
// does not hold the pass.
func TestSilentAPIServerFailsTheCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn // open, never answered, until the listener closes
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	err = os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: silent, cluster: {server: "http://`+l.Addr().String()+`"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: silent, context: {cluster: silent, user: u}}]
current-context: silent
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	client, err := DynamicClient(config.KubeTarget{Kubeconfig: kubeconfig}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := Workloads{Clients: map[string]dynamic.Interface{"cloud": client}}

	done := make(chan error, 1)
	go func() {
		_, err := w.Check(context.Background(), request(1))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a server that never answered passed the check")
		}
		t.Logf("the check failed: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the check still waits on a silent server after a minute; its deadline is a second")
	}
}
