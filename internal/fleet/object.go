package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/traffic"
)

// Object is one Kubernetes object of a build, decoded once: its identity, the typed
// view of the fields gitmig reads for its kind, and the object as built.
type Object struct {
	APIVersion  string
	Kind        string
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
	// The typed view for a Service, a Deployment or a Traefik route (an IngressRoute,
	// IngressRouteTCP or IngressRouteUDP, as Kind says); nil for the other kinds.
	Service      *Service
	Deployment   *Deployment
	IngressRoute *IngressRoute
	// JSON is the object as kustomize built it.
	JSON []byte
	// Malformed says why the typed view could not be read; the view is nil then, and
	// verify reports it.
	Malformed string
}

// Service is what gitmig reads of a core/v1 Service.
type Service struct {
	Type         string            `json:"type"`
	ExternalName string            `json:"externalName"`
	ClusterIP    string            `json:"clusterIP"`
	ClusterIPs   []string          `json:"clusterIPs"`
	Selector     map[string]string `json:"selector"`
	Ports        []Port            `json:"ports"`
}

// ServiceTypeExternalName is the type of a Service that is a DNS alias.
const ServiceTypeExternalName = "ExternalName"

// IsExternalName reports whether the Service is a DNS alias rather than a front for
// pods.
func (s *Service) IsExternalName() bool { return s.Type == ServiceTypeExternalName }

// Port is one port of a Service.
type Port struct {
	Name     string `json:"name,omitempty"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol,omitempty"`
	// AppProtocol is the application protocol the port speaks (Kubernetes'
	// spec.ports[].appProtocol), such as http, kubernetes.io/h2c or https.
	AppProtocol string `json:"appProtocol,omitempty"`
}

// Kind is how Traefik carries the port of svc, from what it speaks: gitmig.yaml's
// override for it, else its appProtocol.
func (p Port) Kind(svc config.Service) (traffic.Kind, error) {
	return traffic.KindOf(p.Protocol, p.AppProtocolOf(svc))
}

// AppProtocolOf is what the port of svc speaks: gitmig.yaml's override for it, else its
// own appProtocol.
func (p Port) AppProtocolOf(svc config.Service) string {
	return svc.AppProtocol(p.Name, p.Port, p.AppProtocol)
}

// Label is the port's name, or its number when it has none.
func (p Port) Label() string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprint(p.Port)
}

// Deployment is what gitmig reads of an apps/v1 Deployment.
type Deployment struct {
	// Selector is spec.selector.matchLabels; PodLabels the pod template's labels.
	Selector  map[string]string
	PodLabels map[string]string
}

// Traefik's API groups: traefik.io since v2.10, traefik.containo.us before and removed
// in v3.
const (
	TraefikGroup    = "traefik.io"
	OldTraefikGroup = "traefik.containo.us"
)

// The kinds of Traefik's routes: HTTP routers, TCP routers and UDP routers.
const (
	KindIngressRoute    = "IngressRoute"
	KindIngressRouteTCP = "IngressRouteTCP"
	KindIngressRouteUDP = "IngressRouteUDP"
)

// IngressRoute is what gitmig reads of a Traefik IngressRoute, IngressRouteTCP or
// IngressRouteUDP of either group: the three share their shape, and the object's Kind
// says which it is.
type IngressRoute struct {
	EntryPoints []string `json:"entryPoints"`
	Routes      []Route  `json:"routes"`
	// TLS is set where Traefik handles TLS: for an IngressRouteTCP, passing it through
	// or terminating it.
	TLS *RouteTLS `json:"tls,omitempty"`
}

// RouteTLS is what gitmig reads of a route's tls section.
type RouteTLS struct {
	// Passthrough leaves the client's TLS unopened, to the pods.
	Passthrough bool `json:"passthrough"`
}

// Route is one Traefik route: a rule (none for UDP) and the Services it forwards to.
type Route struct {
	Match    string         `json:"match"`
	Kind     string         `json:"kind,omitempty"`
	Services []RouteService `json:"services"`
}

// RouteService is a Kubernetes Service a route forwards to, on a port given by number
// or by name.
type RouteService struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Kind      string `json:"kind,omitempty"`
	// Scheme is how an HTTP route talks to the pods: http when empty, h2c, https.
	Scheme string `json:"scheme,omitempty"`
	// PortNumber or PortName is set, from the route's port.
	PortNumber int32  `json:"-"`
	PortName   string `json:"-"`
}

// UnmarshalJSON reads port as the number or the name it is.
func (s *RouteService) UnmarshalJSON(data []byte) error {
	type plain RouteService
	var v struct {
		plain
		Port json.RawMessage `json:"port"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = RouteService(v.plain)
	if len(v.Port) == 0 {
		return nil
	}
	if json.Unmarshal(v.Port, &s.PortNumber) == nil {
		return nil
	}
	return json.Unmarshal(v.Port, &s.PortName)
}

// IsService reports whether the route forwards to a Kubernetes Service (rather than a
// TraefikService).
func (s RouteService) IsService() bool { return s.Kind == "" || s.Kind == "Service" }

// NamespaceIn is the namespace of the route's Service: its own, or the route's.
func (s RouteService) NamespaceIn(route *Object) string {
	if s.Namespace != "" {
		return s.Namespace
	}
	return route.Namespace
}

// CatchesAll reports whether a Traefik route takes every connection of its entry
// points, so that no other Service can share them: an IngressRouteUDP, or an
// IngressRouteTCP with a HostSNI(`*`) rule and no TLS.
func (o *Object) CatchesAll() bool {
	if o.IngressRoute == nil {
		return false
	}
	switch o.Kind {
	case KindIngressRouteUDP:
		return true
	case KindIngressRouteTCP:
		if o.IngressRoute.TLS != nil {
			return false
		}
		for _, r := range o.IngressRoute.Routes {
			if slices.Contains(HostSNIs(r.Match), "*") {
				return true
			}
		}
	}
	return false
}

// Ref names the object the way people read it: Kind/namespace/name.
func (o *Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + "/" + o.Name
	}
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// Group is the API group of the object, "" for the core group.
func (o *Object) Group() string {
	group, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

// Raw decodes the object as built into nested maps.
func (o *Object) Raw() (map[string]any, error) {
	var raw map[string]any
	if err := json.Unmarshal(o.JSON, &raw); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", o.Ref(), err)
	}
	return raw, nil
}

// decodeObject decodes one built object and its typed view.
func decodeObject(data []byte) (*Object, error) {
	var wire struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name        string            `json:"name"`
			Namespace   string            `json:"namespace"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"metadata"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		return nil, err
	}
	o := &Object{
		APIVersion:  wire.APIVersion,
		Kind:        wire.Kind,
		Name:        wire.Metadata.Name,
		Namespace:   wire.Metadata.Namespace,
		Labels:      wire.Metadata.Labels,
		Annotations: wire.Metadata.Annotations,
		JSON:        data,
	}
	var view any
	switch group := o.Group(); {
	case o.Kind == "Service" && group == "":
		o.Service = &Service{}
		view = o.Service
	case o.Kind == "Deployment" && group == "apps":
		var spec struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
			} `json:"template"`
		}
		if len(wire.Spec) > 0 {
			if err := json.Unmarshal(wire.Spec, &spec); err != nil {
				o.Malformed = err.Error()
				return o, nil
			}
		}
		o.Deployment = &Deployment{Selector: spec.Selector.MatchLabels, PodLabels: spec.Template.Metadata.Labels}
	case (o.Kind == KindIngressRoute || o.Kind == KindIngressRouteTCP || o.Kind == KindIngressRouteUDP) &&
		(group == TraefikGroup || group == OldTraefikGroup):
		o.IngressRoute = &IngressRoute{}
		view = o.IngressRoute
	}
	if view != nil && len(wire.Spec) > 0 {
		if err := json.Unmarshal(wire.Spec, view); err != nil {
			// Kubernetes would refuse it; gitmig reads around it and says so.
			o.Malformed = err.Error()
			o.Service, o.IngressRoute = nil, nil
		}
	}
	return o, nil
}
