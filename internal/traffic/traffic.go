// Package traffic says how a cluster's Traefik carries one Service port's traffic from
// another cluster: the kind of route, decided by what the port speaks (its protocol
// and appProtocol), and the protocol of the entry point that route needs.
package traffic

import (
	"fmt"
	"slices"
	"strings"
)

// Kind is how Traefik carries a port's traffic.
type Kind string

const (
	// HTTP is an IngressRoute matching the Host header of each request.
	HTTP Kind = "http"
	// H2C is an IngressRoute as for HTTP, to pods that speak HTTP/2 without TLS
	// (gRPC): Traefik talks h2c to them.
	H2C Kind = "h2c"
	// TLS is an IngressRouteTCP matching the server name (SNI) of the client's TLS
	// handshake and passing the TLS through unopened, so the pods keep their own
	// certificates and mutual TLS keeps working.
	TLS Kind = "tls"
	// TCP is an IngressRouteTCP HostSNI(`*`): every connection of its entry point goes
	// to the port, so the entry point serves this port alone.
	TCP Kind = "tcp"
	// UDP is an IngressRouteUDP, which matches nothing: its entry point serves this
	// port alone.
	UDP Kind = "udp"
)

// KindOf returns how Traefik carries a Service port of protocol (TCP when empty) and
// appProtocol:
//
//   - unset, http, kubernetes.io/ws: HTTP;
//   - kubernetes.io/h2c, grpc: H2C;
//   - https, tls, kubernetes.io/wss, grpcs: TLS;
//   - tcp, and any other value: TCP, since nothing can be known of the bytes;
//   - protocol UDP: UDP, whatever the appProtocol.
//
// SCTP is an error: Traefik carries no SCTP.
func KindOf(protocol, appProtocol string) (Kind, error) {
	switch strings.ToUpper(protocol) {
	case "", "TCP":
	case "UDP":
		return UDP, nil
	default:
		return "", fmt.Errorf("protocol %s: Traefik carries TCP and UDP only", protocol)
	}
	if k, ok := known(appProtocol); ok {
		return k, nil
	}
	return TCP, nil
}

// Known reports whether gitmig knows appProtocol as one of the values KindOf lists by
// name, rather than carrying it as TCP for want of knowing it.
func Known(appProtocol string) bool {
	_, ok := known(appProtocol)
	return ok && appProtocol != ""
}

func known(appProtocol string) (Kind, bool) {
	// IANA service names are case-insensitive; the kubernetes.io/ prefix marks the
	// names Kubernetes defines, and h2c, ws and wss are often written without it.
	switch strings.TrimPrefix(strings.ToLower(appProtocol), "kubernetes.io/") {
	case "", "http", "ws":
		return HTTP, true
	case "h2c", "grpc":
		return H2C, true
	case "https", "tls", "wss", "grpcs":
		return TLS, true
	case "tcp":
		return TCP, true
	}
	return "", false
}

// EntryPoint is the protocol of the entry point a route of kind k needs: h2c routes
// are HTTP routes.
func (k Kind) EntryPoint() Kind {
	if k == H2C {
		return HTTP
	}
	return k
}

// Exclusive reports whether a route of kind k takes its entry point for itself:
// nothing in a TCP stream without SNI, or in a UDP datagram, tells two services apart.
func (k Kind) Exclusive() bool { return k == TCP || k == UDP }

// IsEntryPointProtocol reports whether p is a protocol an entry point may have:
// http, tls, tcp or udp.
func IsEntryPointProtocol(p string) bool {
	switch Kind(p) {
	case HTTP, TLS, TCP, UDP:
		return true
	}
	return false
}

// EntryPointUse is what a cluster's Traefik routes send through one entry point.
type EntryPointUse struct {
	// Services are the Kubernetes Services routed there, as namespace/name.
	Services []string
	// CatchAll says a route there takes every connection (a TCP HostSNI(`*`) route
	// without TLS, or a UDP route), so the entry point can serve one Service only.
	CatchAll bool
}

// Conflicts returns the Services other than service routed through the entry point
// when a route of kind k for service cannot join them there: when that route, or one
// already there, takes every connection. It returns nil when the route may go there.
func (u EntryPointUse) Conflicts(service string, k Kind) []string {
	if !k.Exclusive() && !u.CatchAll {
		return nil
	}
	var others []string
	for _, s := range u.Services {
		if s != service {
			others = append(others, s)
		}
	}
	return others
}

// With returns the use once a route of kind k for service is added.
func (u EntryPointUse) With(service string, k Kind) EntryPointUse {
	if !slices.Contains(u.Services, service) {
		u.Services = append(slices.Clone(u.Services), service)
	}
	u.CatchAll = u.CatchAll || k.Exclusive()
	return u
}
