package config

import (
	"fmt"
	"io"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/gitmig/gitmig/internal/traffic"
)

// Cluster returns the named cluster.
func (c *Config) Cluster(name string) (Cluster, bool) {
	for _, cl := range c.Clusters {
		if cl.Name == name {
			return cl, true
		}
	}
	return Cluster{}, false
}

// ClusterNames lists the clusters' names in gitmig.yaml's order.
func (c *Config) ClusterNames() []string {
	names := make([]string, len(c.Clusters))
	for i, cl := range c.Clusters {
		names[i] = cl.Name
	}
	return names
}

// Service returns the named service.
func (c *Config) Service(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// Dependencies returns the services that s calls: those listing s among their clients.
func (c *Config) Dependencies(s string) []Service {
	var deps []Service
	for _, d := range c.Services {
		for _, client := range d.Clients {
			if client == s {
				deps = append(deps, d)
				break
			}
		}
	}
	return deps
}

// LatencyMS returns the round trip between two clusters, 0 for a cluster to itself, and
// false when gitmig.yaml does not say.
func (c *Config) LatencyMS(a, b string) (float64, bool) {
	if a == b {
		return 0, true
	}
	for _, l := range c.Latency {
		if len(l.Between) == 2 && ((l.Between[0] == a && l.Between[1] == b) || (l.Between[0] == b && l.Between[1] == a)) {
			return l.MS, true
		}
	}
	return 0, false
}

// ClusterByDNSName returns the cluster whose ingress answers for dnsName; a trailing dot
// is ignored, as DNS does.
func (c *Config) ClusterByDNSName(dnsName string) (Cluster, bool) {
	for _, cl := range c.Clusters {
		if trimDot(cl.Ingress.DNSName) == trimDot(dnsName) && dnsName != "" {
			return cl, true
		}
	}
	return Cluster{}, false
}

func trimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

// EntryPointForPort returns the entry point of the cluster's ingress listening on port.
func (cl Cluster) EntryPointForPort(port int32) (string, bool) {
	for _, name := range sortedKeys(cl.Ingress.EntryPoints) {
		if cl.Ingress.EntryPoints[name].Port == port {
			return name, true
		}
	}
	return "", false
}

// EntryPointFor returns the entry point of the cluster's ingress that can carry a route
// of kind k for a Service port: the one listening on the port, when its protocol is
// the one k needs, since a client keeps its port across the flip. The error says why
// there is none.
func (cl Cluster) EntryPointFor(port int32, k traffic.Kind) (string, error) {
	name, ok := cl.EntryPointForPort(port)
	if !ok {
		return "", fmt.Errorf("no entry point on port %d", port)
	}
	if got, need := cl.Ingress.EntryPoints[name].Protocol, k.EntryPoint(); got != string(need) {
		return "", fmt.Errorf("entry point %s on port %d is %s, not %s as the port's %s route needs", name, port, got, need, k)
	}
	return name, nil
}

// EntryPointList spells the cluster's entry points as name:port/protocol, sorted by
// name, for messages.
func (cl Cluster) EntryPointList() string {
	parts := make([]string, 0, len(cl.Ingress.EntryPoints))
	for _, name := range sortedKeys(cl.Ingress.EntryPoints) {
		ep := cl.Ingress.EntryPoints[name]
		parts = append(parts, fmt.Sprintf("%s:%d/%s", name, ep.Port, ep.Protocol))
	}
	return strings.Join(parts, ", ")
}

// AppProtocol returns what the service's port of that name and number speaks: the
// appProtocol gitmig.yaml's ports give it, else own, the Service port's.
func (s Service) AppProtocol(name string, port int32, own string) string {
	for _, p := range s.Ports {
		if p.Names(name, port) {
			return p.AppProtocol
		}
	}
	return own
}

// Names reports whether the override is for the port of that name and number.
func (p PortProtocol) Names(name string, port int32) bool {
	return (p.Name != "" && p.Name == name) || (p.Port != 0 && p.Port == port)
}

// CPUCores and MemoryBytes return the configured capacity, and false when not configured.
func (cl Cluster) CPUCores() (float64, bool) {
	return quantity(cl.Capacity, func(c *Capacity) string { return c.CPU })
}

// MemoryBytes returns the configured memory capacity in bytes.
func (cl Cluster) MemoryBytes() (float64, bool) {
	return quantity(cl.Capacity, func(c *Capacity) string { return c.Memory })
}

func quantity(c *Capacity, field func(*Capacity) string) (float64, bool) {
	if c == nil || field(c) == "" {
		return 0, false
	}
	q, err := resource.ParseQuantity(field(c))
	if err != nil {
		return 0, false
	}
	return q.AsApproximateFloat64(), true
}

// QueryTarget fills the templates of policy.queries that name one service in one
// cluster.
type QueryTarget struct {
	Cluster   string
	Namespace string
	Service   string
}

// ParseQueryTemplate parses a policy.queries template; a template that names a field
// QueryTarget lacks is an error now rather than at the first gate.
func ParseQueryTemplate(text string) (*template.Template, error) {
	t, err := template.New("query").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	if err := t.Execute(io.Discard, QueryTarget{}); err != nil {
		return nil, fmt.Errorf("not a valid template: %w", err)
	}
	return t, nil
}

// Query fills a policy.queries template for one service in one cluster.
func Query(text string, target QueryTarget) (string, error) {
	t, err := ParseQueryTemplate(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, target); err != nil {
		return "", err
	}
	return b.String(), nil
}
