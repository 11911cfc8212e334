package dataplane

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// TestProtocols calls a server of every protocol as a probe does, by a Service name,
// and checks the answer names the server's cluster; a TLS client that expects
// another name is refused.
func TestProtocols(t *testing.T) {
	ca, err := newTestCA()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []Protocol{HTTP, GRPC, TLS, TCP} {
		t.Run(string(p), func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var cert *tls.Certificate
			if p == TLS {
				if cert, err = ca.issue(serviceNames("orc8r", "orc8r-ns"), net.IPv4(127, 0, 0, 1)); err != nil {
					t.Fatal(err)
				}
			}
			go serve(l, p, answer("cloud", "orc8r-1"), cert)
			ask := func(host string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				conn, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				return call(ctx, conn, p, host, ca.pool)
			}
			got, err := ask("orc8r.orc8r-ns:8443")
			if err != nil {
				t.Fatal(err)
			}
			if clusterOf(got) != "cloud" || got != "cloud orc8r-1" {
				t.Errorf("answer %q, want %q", got, "cloud orc8r-1")
			}
			if p == TLS {
				if _, err := ask("agw.agw-ns:8443"); err == nil {
					t.Error("a TLS client dialling agw.agw-ns accepted orc8r's certificate")
				}
			}
		})
	}
}

func TestProtocolOf(t *testing.T) {
	for app, want := range map[string]Protocol{
		"": HTTP, "http": HTTP, "kubernetes.io/h2c": GRPC, "grpc": GRPC,
		"https": TLS, "kubernetes.io/https": TLS, "grpcs": TLS, "tls": TLS, "tcp": TCP,
	} {
		if got, err := ProtocolOf(app); err != nil || got != want {
			t.Errorf("ProtocolOf(%q) = %q, %v; want %q", app, got, err, want)
		}
	}
	if _, err := ProtocolOf("kubernetes.io/ws"); err == nil {
		t.Error("ProtocolOf(kubernetes.io/ws): no error")
	}
}

// TestNetns checks that a socket made through a namespace lives there: a listener
// made in it is reached from it and not from the test's namespace.
func TestNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ns, err := newNetns(fmt.Sprintf("%s%d-unit", namePrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.delete(); err != nil {
			t.Error(err)
		}
	})
	if err := ns.ip("link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	l, err := ns.listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveLines(l, "inside")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := ns.dial(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, err := callLine(conn); err != nil || got != "inside" {
		t.Errorf("from inside: %q, %v", got, err)
	}
	if c, err := net.DialTimeout("tcp", l.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("the test's namespace reached %s, which listens in %s", l.Addr(), ns.name)
	}
}
