package render

import (
	"net"
	"strings"

	"github.com/gitmig/gitmig/internal/fleet"
)

// The manifests gitmig writes, as the maps that become YAML. meta is the object's
// metadata, with gitmig's labels and annotations.

func namespaceManifest(meta map[string]any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
}

// externalNameService is a Service that answers for a service elsewhere: a DNS alias of
// dnsName, with the ports clients call.
func externalNameService(meta map[string]any, dnsName string, ports []fleet.Port) map[string]any {
	var list []any
	for _, p := range ports {
		port := map[string]any{"port": p.Port}
		if p.Name != "" {
			port["name"] = p.Name
		}
		if p.Protocol != "" {
			port["protocol"] = p.Protocol
		}
		if p.AppProtocol != "" {
			port["appProtocol"] = p.AppProtocol
		}
		list = append(list, port)
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   meta,
		"spec": map[string]any{
			"type":         "ExternalName",
			"externalName": dnsName,
			"ports":        list,
		},
	}
}

// externalNamePatch is the strategic merge patch that turns a base's Service into an
// ExternalName to dnsName: ports kept, selector and cluster IPs removed (the API server
// rejects an ExternalName Service that sets them).
func externalNamePatch(meta map[string]any, dnsName string) map[string]any {
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Service",
		"metadata":   meta,
		"spec": map[string]any{
			"type":                  "ExternalName",
			"externalName":          dnsName,
			"selector":              nil,
			"clusterIP":             nil,
			"clusterIPs":            nil,
			"externalTrafficPolicy": nil,
			"internalTrafficPolicy": nil,
			"sessionAffinity":       nil,
		},
	}
}

// backend is the Service port a Traefik route sends its traffic to.
type backend struct {
	name, namespace string
	port            int32
}

func (b backend) manifest() map[string]any {
	return map[string]any{"name": b.name, "namespace": b.namespace, "port": b.port}
}

// matcherRule is the Traefik rule that matches any of names with matcher (Host or
// HostSNI): Host(`a`) || Host(`b`).
func matcherRule(matcher string, names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = matcher + "(`" + n + "`)"
	}
	return strings.Join(parts, " || ")
}

// ingressRoute is a traefik.io IngressRoute, an HTTP router on one entry point, that
// sends the requests match matches to a Service port, speaking scheme to the pods
// (http when empty).
func ingressRoute(meta map[string]any, entryPoint, match string, to backend, scheme string) map[string]any {
	service := to.manifest()
	service["kind"] = "Service"
	if scheme != "" {
		service["scheme"] = scheme
	}
	return map[string]any{
		"apiVersion": fleet.TraefikGroup + "/v1alpha1",
		"kind":       fleet.KindIngressRoute,
		"metadata":   meta,
		"spec": map[string]any{
			"entryPoints": []any{entryPoint},
			"routes": []any{map[string]any{
				"kind":     "Rule",
				"match":    match,
				"services": []any{service},
			}},
		},
	}
}

// ingressRouteTCP is a traefik.io IngressRouteTCP, a TCP router on one entry point,
// that sends the connections match matches to a Service port; with passthrough it
// matches on the TLS server name and leaves the TLS to the pods.
func ingressRouteTCP(meta map[string]any, entryPoint, match string, to backend, passthrough bool) map[string]any {
	spec := map[string]any{
		"entryPoints": []any{entryPoint},
		"routes": []any{map[string]any{
			"match":    match,
			"services": []any{to.manifest()},
		}},
	}
	if passthrough {
		spec["tls"] = map[string]any{"passthrough": true}
	}
	return map[string]any{
		"apiVersion": fleet.TraefikGroup + "/v1alpha1",
		"kind":       fleet.KindIngressRouteTCP,
		"metadata":   meta,
		"spec":       spec,
	}
}

// ingressRouteUDP is a traefik.io IngressRouteUDP that sends every datagram of its
// entry point to a Service port.
func ingressRouteUDP(meta map[string]any, entryPoint string, to backend) map[string]any {
	return map[string]any{
		"apiVersion": fleet.TraefikGroup + "/v1alpha1",
		"kind":       fleet.KindIngressRouteUDP,
		"metadata":   meta,
		"spec": map[string]any{
			"entryPoints": []any{entryPoint},
			"routes":      []any{map[string]any{"services": []any{to.manifest()}}},
		},
	}
}

// dnsEndpoint is external-dns's record of dnsName at address: A for an IPv4 address,
// AAAA for an IPv6 one.
func dnsEndpoint(meta map[string]any, dnsName, address string) map[string]any {
	recordType := "A"
	if ip := net.ParseIP(address); ip != nil && ip.To4() == nil {
		recordType = "AAAA"
	}
	return map[string]any{
		"apiVersion": "externaldns.k8s.io/v1alpha1",
		"kind":       "DNSEndpoint",
		"metadata":   meta,
		"spec": map[string]any{
			"endpoints": []any{map[string]any{
				"dnsName":    dnsName,
				"recordType": recordType,
				"recordTTL":  60,
				"targets":    []any{address},
			}},
		},
	}
}
