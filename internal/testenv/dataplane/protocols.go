package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"
)

// Protocol is what a Service port speaks, from its appProtocol.
type Protocol string

const (
	HTTP Protocol = "http"
	// GRPC is gRPC over HTTP/2 without TLS (h2c).
	GRPC Protocol = "grpc"
	// TLS is a TLS stream, passed through by the ingress on its SNI.
	TLS Protocol = "tls"
	// TCP is a plain TCP stream.
	TCP Protocol = "tcp"
)

// ProtocolOf maps a Service port's appProtocol to the protocol its server speaks and
// its probe calls: what gitmig routes it by. No appProtocol is HTTP, as gitmig's step
// 2 routes every port today.
func ProtocolOf(appProtocol string) (Protocol, error) {
	switch strings.ToLower(strings.TrimPrefix(appProtocol, "kubernetes.io/")) {
	case "", "http":
		return HTTP, nil
	case "h2c", "grpc":
		return GRPC, nil
	case "https", "tls", "grpcs":
		return TLS, nil
	case "tcp":
		return TCP, nil
	}
	return "", fmt.Errorf("appProtocol %q: no server or probe for it", appProtocol)
}

// Every server answers with its identity: the cluster, and the pod.
func answer(cluster, pod string) string { return cluster + " " + pod }

// clusterOf is the cluster in an answer.
func clusterOf(answer string) string {
	cluster, _, _ := strings.Cut(strings.TrimSpace(answer), " ")
	return cluster
}

// grpcMethod is the one unary method of the gRPC servers: its request is empty, its
// response a message whose field 1 is the answer.
const grpcMethod = "/gitmig.dataplane.v1.Who/Ask"

// serve answers on l in protocol p until l is closed. cert is the server's
// certificate for TLS.
func serve(l net.Listener, p Protocol, id string, cert *tls.Certificate) {
	switch p {
	case HTTP, GRPC:
		srv := &http.Server{Handler: handler(id), ReadHeaderTimeout: 5 * time.Second}
		if p == GRPC {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetUnencryptedHTTP2(true)
		}
		_ = srv.Serve(l)
	case TLS:
		serveLines(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{*cert}}), id)
	case TCP:
		serveLines(l, id)
	}
}

// handler answers HTTP requests with the identity, and gRPC calls of grpcMethod with
// it in the response message.
func handler(id string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			fmt.Fprintln(w, id)
			return
		}
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		if _, err := io.Copy(io.Discard, r.Body); err != nil || r.URL.Path != grpcMethod {
			w.Header().Set("Grpc-Status", "12") // UNIMPLEMENTED
			w.Header().Set("Grpc-Message", "unknown method "+r.URL.Path)
			return
		}
		// A protobuf message of one string field, number 1, in a gRPC frame:
		// uncompressed flag, big-endian length, message.
		msg := append([]byte{0x0a}, binary.AppendUvarint(nil, uint64(len(id)))...)
		msg = append(msg, id...)
		frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
		_, _ = w.Write(append(frame, msg...))
		w.Header().Set("Grpc-Status", "0")
	})
}

// serveLines answers every line a connection sends with the identity.
func serveLines(l net.Listener, id string) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(conn)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
				if _, err := fmt.Fprintln(conn, id); err != nil {
					return
				}
			}
		}()
	}
}

// call makes one request in protocol p over conn, which dialled host, and returns the
// answer. roots verify TLS servers.
func call(ctx context.Context, conn net.Conn, p Protocol, host string, roots *x509.CertPool) (string, error) {
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	switch p {
	case HTTP, GRPC:
		return callHTTP(ctx, conn, p, host)
	case TLS:
		tc := tls.Client(conn, &tls.Config{ServerName: hostOnly(host), RootCAs: roots})
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", fmt.Errorf("TLS handshake: %w", err)
		}
		return callLine(tc)
	case TCP:
		return callLine(conn)
	}
	return "", fmt.Errorf("protocol %q", p)
}

func hostOnly(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return host
}

func callLine(conn net.Conn) (string, error) {
	if _, err := io.WriteString(conn, "who\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// callHTTP sends one HTTP/1.1 GET, or one gRPC call over HTTP/2 without TLS, on conn
// with host as the authority, as a client that dialled host would.
func callHTTP(ctx context.Context, conn net.Conn, p Protocol, host string) (string, error) {
	used := false
	transport := &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			if used {
				return nil, errors.New("one connection per call")
			}
			used = true
			return conn, nil
		},
	}
	// The client closes the connection, not the server: after a keep-alive response
	// the connection goes idle and this closes it. The side that closes first keeps
	// the connection in TIME_WAIT, and here client and servers share one kernel
	// through kube-proxy's DNAT, where the client's choice of a source port cannot
	// see a server's TIME_WAIT for the same four-tuple after translation: a new SYN
	// that hits one is not answered, and the connection times out.
	defer transport.CloseIdleConnections()
	var req *http.Request
	var err error
	if p == GRPC {
		transport.Protocols = new(http.Protocols)
		transport.Protocols.SetUnencryptedHTTP2(true)
		// An empty request message in its frame.
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+grpcMethod, bytes.NewReader([]byte{0, 0, 0, 0, 0}))
		if err == nil {
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("TE", "trailers")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	}
	if err != nil {
		return "", err
	}
	resp, err := transport.RoundTrip(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	if p == HTTP {
		return strings.TrimSpace(string(body)), nil
	}
	if status := resp.Trailer.Get("Grpc-Status"); status != "0" {
		return "", fmt.Errorf("grpc-status %q: %s", status, resp.Trailer.Get("Grpc-Message"))
	}
	// One frame holding field 1, length-delimited.
	if len(body) < 7 || body[5] != 0x0a {
		return "", fmt.Errorf("gRPC response %q: not one message of field 1", body)
	}
	n, size := binary.Uvarint(body[6:])
	if size <= 0 || 6+size+int(n) > len(body) {
		return "", fmt.Errorf("gRPC response %q: bad length", body)
	}
	return string(body[6+size : 6+size+int(n)]), nil
}

// testCA issues the servers' certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA() (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gitmig data-plane test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}, nil
}

// issue returns a serving certificate of its own key for the names and address.
func (ca *testCA) issue(names []string, ip net.IP) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		IPAddresses:  []net.IP{ip},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
