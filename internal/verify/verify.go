// Package verify checks a fleet's model: that every service leads to a Deployment from
// every cluster that needs it, and that none of a migration's traps is in the tree. It
// also warns when the engine that applies an overlay would not prune what step 4
// removes.
package verify

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/traffic"
)

// Finding is one violation in a tree: which service, seen from which cluster, and what
// broke.
type Finding struct {
	Service string `json:"service,omitempty"`
	Cluster string `json:"cluster"`
	Problem string `json:"problem"`
}

func (f Finding) String() string {
	if f.Cluster == "" {
		return fmt.Sprintf("service %s: %s", f.Service, f.Problem)
	}
	if f.Service == "" {
		return fmt.Sprintf("cluster %s: %s", f.Cluster, f.Problem)
	}
	return fmt.Sprintf("service %s, cluster %s: %s", f.Service, f.Cluster, f.Problem)
}

// Verify checks a fleet: every configured service leads to a Deployment from every
// cluster where one of its clients runs or where a Service of its name exists, and none
// of a migration's traps is present. Findings are sorted by cluster, then service.
func Verify(m *fleet.Model) []Finding {
	v := &verifier{model: m, cfg: m.Config}
	for _, cl := range v.cfg.Clusters {
		v.checkTraps(cl, m.Build(cl.Name))
	}
	for _, svc := range v.cfg.Services {
		v.checkService(svc)
	}
	slices.SortStableFunc(v.findings, func(a, b Finding) int {
		if c := strings.Compare(a.Cluster, b.Cluster); c != 0 {
			return c
		}
		return strings.Compare(a.Service, b.Service)
	})
	return slices.CompactFunc(v.findings, func(a, b Finding) bool { return a == b })
}

type verifier struct {
	model    *fleet.Model
	cfg      *config.Config
	findings []Finding
}

func (v *verifier) add(service, cluster, format string, args ...any) {
	v.findings = append(v.findings, Finding{Service: service, Cluster: cluster, Problem: fmt.Sprintf(format, args...)})
}

// systemNamespace reports a namespace that every cluster has without declaring it.
func systemNamespace(ns string) bool {
	switch ns {
	case "default", "kube-system", "kube-public", "kube-node-lease":
		return true
	}
	return false
}

func (v *verifier) checkTraps(cl config.Cluster, b *fleet.Build) {
	missing := map[string][]string{}
	for _, o := range b.Objects {
		if o.Namespace != "" && !b.HasNamespace(o.Namespace) && !systemNamespace(o.Namespace) {
			missing[o.Namespace] = append(missing[o.Namespace], o.Ref())
		}
		switch {
		case o.Malformed != "":
			v.add(o.Name, cl.Name, "%s does not read as a %s: %s", o.Ref(), o.Kind, o.Malformed)
		case o.IngressRoute != nil && o.Group() == fleet.OldTraefikGroup:
			v.add(serviceOf(o), cl.Name, "%s %s uses the %s API group, removed in Traefik v3; use %s/v1alpha1", o.Kind, o.Ref(), fleet.OldTraefikGroup, fleet.TraefikGroup)
		case o.Service != nil:
			if s := o.Service; s.IsExternalName() && (s.ClusterIP != "" || len(s.ClusterIPs) > 0) {
				v.add(o.Name, cl.Name, "ExternalName Service %s sets clusterIP %q; the API server rejects it", o.Ref(), s.ClusterIP)
			}
		}
	}
	for _, ns := range slices.Sorted(maps.Keys(missing)) {
		v.add("", cl.Name, "the build has no Namespace %s for %s: the apply fails, or pruning deletes them with the Namespace",
			ns, strings.Join(missing[ns], ", "))
	}
	uses := b.EntryPoints()
	for _, ep := range slices.Sorted(maps.Keys(uses)) {
		if use := uses[ep]; use.CatchAll && len(use.Services) > 1 {
			v.add(v.serviceNamed(use.Services), cl.Name, "entry point %s routes %s, and a HostSNI(`*`) or UDP route there takes every connection: Traefik cannot tell their clients apart, and each needs an entry point of its own",
				ep, strings.Join(use.Services, " and "))
		}
	}
}

// serviceNamed names the first of refs (namespace/name) that gitmig.yaml lists, for a
// finding about them all.
func (v *verifier) serviceNamed(refs []string) string {
	for _, ref := range refs {
		for _, svc := range v.cfg.Services {
			if ref == svc.Namespace+"/"+svc.Name {
				return svc.Name
			}
		}
	}
	return ""
}

// serviceOf names the service a Traefik route forwards to, for findings about it.
func serviceOf(o *fleet.Object) string {
	for _, route := range o.IngressRoute.Routes {
		for _, rs := range route.Services {
			return rs.Name
		}
	}
	return ""
}

// checkService follows the service's name from every cluster that needs it.
func (v *verifier) checkService(svc config.Service) {
	if len(v.model.Running(svc)) == 0 {
		v.add(svc.Name, "", "no cluster runs it: no build has Deployment %s/%s", svc.Namespace, svc.Name)
	}
	ports, err := v.model.Ports(svc)
	if err != nil {
		v.add(svc.Name, "", "%v", err)
		return
	}
	v.checkPortProtocols(svc, ports)
	need := map[string]string{}
	for _, name := range svc.Clients {
		client, ok := v.cfg.Service(name)
		if !ok {
			continue
		}
		for _, cluster := range v.model.Running(client) {
			need[cluster] = fmt.Sprintf("its client %s runs there", name)
		}
	}
	for _, cl := range v.cfg.Clusters {
		if _, ok := v.model.Build(cl.Name).Service(svc.Namespace, svc.Name); ok {
			if _, already := need[cl.Name]; !already {
				need[cl.Name] = "a Service of its name exists there"
			}
		}
	}
	for _, cluster := range slices.Sorted(maps.Keys(need)) {
		if problem := v.resolve(svc, ports, cluster, nil); problem != "" {
			v.add(svc.Name, cluster, "%s (checked because %s)", problem, need[cluster])
		}
	}
}

// checkPortProtocols reports the overrides of gitmig.yaml's services[].ports that name
// no port of the service's Service: config cannot know its ports, the builds do.
func (v *verifier) checkPortProtocols(svc config.Service, ports []fleet.Port) {
	i := slices.IndexFunc(v.cfg.Services, func(s config.Service) bool { return s.Name == svc.Name })
	for j, o := range svc.Ports {
		if slices.ContainsFunc(ports, func(p fleet.Port) bool { return o.Names(p.Name, p.Port) }) {
			continue
		}
		var have []string
		for _, p := range ports {
			have = append(have, fmt.Sprintf("%s/%d", p.Name, p.Port))
		}
		v.add(svc.Name, "", "gitmig.yaml services[%d].ports[%d] names port %s, which Service %s/%s does not have (its ports: %s)",
			i, j, cmp.Or(o.Name, fmt.Sprint(o.Port)), svc.Namespace, svc.Name, strings.Join(have, ", "))
	}
}

// resolve follows the service's name in a cluster to a Deployment and returns what
// broke on the way, or "".
func (v *verifier) resolve(svc config.Service, ports []fleet.Port, cluster string, path []string) string {
	path = append(path, cluster)
	if slices.Contains(path[:len(path)-1], cluster) {
		return "ExternalName loop: " + strings.Join(path, " → ")
	}
	b := v.model.Build(cluster)
	obj, ok := b.Service(svc.Namespace, svc.Name)
	if !ok {
		return fmt.Sprintf("no Service %s/%s in %s, so its name does not resolve there", svc.Namespace, svc.Name, cluster)
	}
	s := obj.Service
	if !s.IsExternalName() {
		return v.resolveLocal(svc, cluster, b, s)
	}
	target, ok := v.cfg.ClusterByDNSName(s.ExternalName)
	if !ok {
		return fmt.Sprintf("ExternalName Service %s/%s in %s points at %q, which is no cluster's ingress dnsName",
			svc.Namespace, svc.Name, cluster, s.ExternalName)
	}
	tb := v.model.Build(target.Name)
	for _, p := range ports {
		if problem := v.routed(svc, p, target, tb); problem != "" {
			return fmt.Sprintf("%s/%s in %s is an ExternalName to %s, but %s", svc.Namespace, svc.Name, cluster, target.Name, problem)
		}
	}
	if problem := v.resolve(svc, ports, target.Name, path); problem != "" {
		return fmt.Sprintf("via %s: %s", target.Name, problem)
	}
	return ""
}

// resolveLocal checks that a Service with a selector has a Deployment behind it.
func (v *verifier) resolveLocal(svc config.Service, cluster string, b *fleet.Build, s *fleet.Service) string {
	for _, o := range b.Deployments(svc.Namespace) {
		if selects(s.Selector, o.Deployment.PodLabels) {
			return ""
		}
	}
	return fmt.Sprintf("Service %s/%s in %s selects no Deployment there", svc.Namespace, svc.Name, cluster)
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

// routed checks that the target cluster's Traefik carries port p of the service as
// what the port speaks (package traffic): on the entry point listening on p, with a
// route of the right kind that matches every name a client may use.
func (v *verifier) routed(svc config.Service, p fleet.Port, target config.Cluster, tb *fleet.Build) string {
	kind, err := p.Kind(svc)
	if err != nil {
		return fmt.Sprintf("port %s: %v", p.Label(), err)
	}
	ep, err := target.EntryPointFor(p.Port, kind)
	if err != nil {
		return fmt.Sprintf("port %s (%d, %s): %s's Traefik cannot carry it: %v", p.Label(), p.Port, kind, target.Name, err)
	}
	want := append(fleet.InClusterHosts(svc.Name, svc.Namespace), svc.Hosts...)
	// Of the routes that forward the port, the problem of the one closest to right.
	closest, rank := "", math.MaxInt
	for _, o := range tb.RoutesTo(svc.Namespace, svc.Name) {
		if !slices.Contains(o.IngressRoute.EntryPoints, ep) {
			continue
		}
		for _, route := range o.IngressRoute.Routes {
			if !v.forwardsPort(route, o, svc, p, tb) {
				continue
			}
			problem, r := carries(kind, o, route, want)
			if problem == "" {
				return ""
			}
			if r < rank {
				closest, rank = fmt.Sprintf("port %s (%d, %s): %s's %s on entry point %s %s",
					p.Label(), p.Port, kind, target.Name, o.Ref(), ep, problem), r
			}
		}
	}
	if closest != "" {
		return closest
	}
	return fmt.Sprintf("port %s (%d, %s): no traefik.io route in %s forwards entry point %s to Service %s/%s port %d",
		p.Label(), p.Port, kind, target.Name, ep, svc.Namespace, svc.Name, p.Port)
}

// wrongKind ranks a route of the wrong kind below any route of the right one.
const wrongKind = math.MaxInt - 1

// carries says what keeps one route of o from carrying a port of kind k for the names
// clients use, "" when nothing does, and how far it is from right: the number of
// names it misses, or wrongKind.
func carries(k traffic.Kind, o *fleet.Object, route fleet.Route, names []string) (string, int) {
	tls := o.IngressRoute.TLS
	switch k {
	case traffic.HTTP, traffic.H2C:
		switch {
		case o.Kind != fleet.KindIngressRoute:
			return "is " + router(o) + ", which cannot see the Host of a request; route it with an IngressRoute", wrongKind
		case tls != nil:
			return "has a tls section, so it answers TLS only, which the port's clients do not speak", wrongKind
		}
		if lacking := missing(names, fleet.Hosts(route.Match)); len(lacking) > 0 {
			return "does not match host " + strings.Join(lacking, ", "), len(lacking)
		}
		for _, rs := range route.Services {
			if k == traffic.H2C && rs.Scheme != "h2c" {
				return "sends HTTP/1.1 to pods that speak h2c; give its service scheme: h2c", 1
			}
		}
	case traffic.TLS:
		switch {
		case o.Kind != fleet.KindIngressRouteTCP:
			return "is " + router(o) + ": Traefik would end the client's TLS itself, with no certificate for it and no mutual TLS; route it with an IngressRouteTCP on HostSNI with tls.passthrough: true", wrongKind
		case tls == nil || !tls.Passthrough:
			return "ends the client's TLS (no tls.passthrough): Traefik has no certificate for it, and mutual TLS ends there", wrongKind
		}
		if sni := fleet.HostSNIs(route.Match); !slices.Contains(sni, "*") {
			if lacking := missing(names, sni); len(lacking) > 0 {
				return "does not match SNI " + strings.Join(lacking, ", "), len(lacking)
			}
		}
	case traffic.TCP:
		switch {
		case o.Kind != fleet.KindIngressRouteTCP:
			return "is " + router(o) + "; only an IngressRouteTCP HostSNI(`*`) carries raw TCP", wrongKind
		case tls != nil || !slices.Contains(fleet.HostSNIs(route.Match), "*"):
			return "matches on TLS, which a raw TCP client does not speak; route it with HostSNI(`*`) and no tls", wrongKind
		}
	case traffic.UDP:
		if o.Kind != fleet.KindIngressRouteUDP {
			return "is " + router(o) + "; only an IngressRouteUDP carries UDP", wrongKind
		}
	}
	return "", 0
}

// router says what kind of Traefik router a route object is.
func router(o *fleet.Object) string {
	switch o.Kind {
	case fleet.KindIngressRouteTCP:
		return "a TCP router"
	case fleet.KindIngressRouteUDP:
		return "a UDP router"
	}
	return "an HTTP router"
}

// missing returns the names of want that got lacks.
func missing(want, got []string) []string {
	var m []string
	for _, n := range want {
		if !slices.Contains(got, n) {
			m = append(m, n)
		}
	}
	return m
}

// forwardsPort reports whether a route sends traffic to the service's port p.
func (v *verifier) forwardsPort(route fleet.Route, ir *fleet.Object, svc config.Service, p fleet.Port, tb *fleet.Build) bool {
	for _, rs := range route.Services {
		if rs.Name != svc.Name || rs.NamespaceIn(ir) != svc.Namespace || !rs.IsService() {
			continue
		}
		if rs.PortNumber == p.Port {
			return true
		}
		if rs.PortName != "" && rs.PortName == v.portName(tb, svc, p.Port) {
			return true
		}
	}
	return false
}

// portName returns the name the target's Service gives to a port number.
func (v *verifier) portName(tb *fleet.Build, svc config.Service, port int32) string {
	obj, ok := tb.Service(svc.Namespace, svc.Name)
	if !ok {
		return ""
	}
	for _, sp := range obj.Service.Ports {
		if sp.Port == port {
			return sp.Name
		}
	}
	return ""
}
