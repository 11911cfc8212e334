package render

import (
	"net"

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

// ingressRoute is a traefik.io IngressRoute on one entry point that sends the hosts
// matched by match to a Service port.
func ingressRoute(meta map[string]any, entryPoint, match, service, namespace string, port int32) map[string]any {
	return map[string]any{
		"apiVersion": fleet.TraefikGroup + "/v1alpha1",
		"kind":       "IngressRoute",
		"metadata":   meta,
		"spec": map[string]any{
			"entryPoints": []any{entryPoint},
			"routes": []any{map[string]any{
				"kind":  "Rule",
				"match": match,
				"services": []any{map[string]any{
					"kind":      "Service",
					"name":      service,
					"namespace": namespace,
					"port":      port,
				}},
			}},
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
