package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Object is one Kubernetes object of a kustomize build.
type Object struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	// Raw is the object as kustomize emitted it.
	Raw map[string]any
}

// Ref names the object the way people read it: Kind/namespace/name.
func (o Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Group is the API group of the object, "" for the core group.
func (o Object) Group() string {
	group, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

func (o Object) decode(into any) error {
	data, err := json.Marshal(o.Raw)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decoding %s: %w", o.Ref(), err)
	}
	return nil
}

// Service decodes a core/v1 Service.
func (o Object) Service() (*corev1.Service, error) {
	var s corev1.Service
	return &s, o.decode(&s)
}

// Deployment decodes an apps/v1 Deployment.
func (o Object) Deployment() (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	return &d, o.decode(&d)
}

// Traefik's IngressRoute groups: traefik.io since v2.10, traefik.containo.us before and
// removed in v3.
const (
	TraefikGroup    = "traefik.io"
	OldTraefikGroup = "traefik.containo.us"
)

// IngressRoute is the part of a Traefik IngressRoute that routing depends on.
type IngressRoute struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		EntryPoints []string `json:"entryPoints"`
		Routes      []Route  `json:"routes"`
	} `json:"spec"`
}

// Route is one Traefik route: a rule and the Services it forwards to.
type Route struct {
	Match    string         `json:"match"`
	Kind     string         `json:"kind,omitempty"`
	Services []RouteService `json:"services"`
}

// RouteService is a Kubernetes Service a route forwards to. Port is a number or the
// name of a Service port.
type RouteService struct {
	Name      string          `json:"name"`
	Namespace string          `json:"namespace,omitempty"`
	Kind      string          `json:"kind,omitempty"`
	Port      json.RawMessage `json:"port,omitempty"`
}

// IngressRoute decodes a Traefik IngressRoute of either API group.
func (o Object) IngressRoute() (*IngressRoute, error) {
	var r IngressRoute
	return &r, o.decode(&r)
}

// PortRef returns the route service's port as a number or, failing that, a name.
func (s RouteService) PortRef() (number int32, name string) {
	if len(s.Port) == 0 {
		return 0, ""
	}
	if err := json.Unmarshal(s.Port, &number); err == nil {
		return number, ""
	}
	_ = json.Unmarshal(s.Port, &name)
	return 0, name
}

// Hosts returns the hosts a Traefik rule matches unconditionally: those of the Host
// matchers among its top-level alternatives. A rule such as
// "Host(`a`) && PathPrefix(`/x`)" matches only part of a host's traffic and yields none,
// so the verifier never counts a partial route as a route.
func Hosts(rule string) []string {
	rule = strings.TrimSpace(rule)
	for strings.HasPrefix(rule, "(") && strings.HasSuffix(rule, ")") && balanced(rule[1:len(rule)-1]) {
		rule = strings.TrimSpace(rule[1 : len(rule)-1])
	}
	if alternatives := splitTopLevel(rule, "||"); len(alternatives) > 1 {
		var hosts []string
		for _, alternative := range alternatives {
			hosts = append(hosts, Hosts(alternative)...)
		}
		return hosts
	}
	if !strings.HasPrefix(rule, "Host(") || !strings.HasSuffix(rule, ")") {
		return nil
	}
	args := rule[len("Host(") : len(rule)-1]
	if strings.ContainsAny(args, "()|&!") {
		return nil
	}
	// Traefik v2 accepted Host(`a`, `b`); v3 takes one host per matcher.
	var hosts []string
	for _, arg := range strings.Split(args, ",") {
		arg = strings.TrimSpace(arg)
		if len(arg) >= 2 && (arg[0] == '`' || arg[0] == '"') && arg[len(arg)-1] == arg[0] {
			hosts = append(hosts, strings.ToLower(arg[1:len(arg)-1]))
		}
	}
	return hosts
}

// splitTopLevel splits s at sep where sep is outside parentheses and quotes.
func splitTopLevel(s, sep string) []string {
	var parts []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '`' || c == '"':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && strings.HasPrefix(s[i:], sep):
			parts = append(parts, s[start:i])
			start = i + len(sep)
			i += len(sep) - 1
		}
	}
	return append(parts, s[start:])
}

func balanced(s string) bool {
	depth := 0
	for _, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

// InClusterHosts returns the names a client inside a cluster may use for Service name in
// namespace: the short name, name.namespace, name.namespace.svc and the full name.
func InClusterHosts(name, namespace string) []string {
	return []string{
		name,
		name + "." + namespace,
		name + "." + namespace + ".svc",
		name + "." + namespace + ".svc.cluster.local",
	}
}

// selects reports whether a Service selector picks the pods of a pod template.
func selects(selector, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func sortedKeysOf[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
