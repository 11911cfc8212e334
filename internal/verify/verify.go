package render

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/gitmig/gitmig/internal/config"
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

// Verify checks a built tree: every configured service leads to a Deployment from every
// cluster where one of its clients runs or where a Service of its name exists, and none
// of DESIGN.md's traps is present. Findings are sorted by cluster, then service.
func Verify(m *Model) []Finding {
	v := &verifier{model: m, cfg: m.repo.config}
	for _, cl := range v.cfg.Clusters {
		b := m.Builds[cl.Name]
		v.checkTraps(cl, b)
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
	model    *Model
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

func (v *verifier) checkTraps(cl config.Cluster, b *Build) {
	defined := map[string]bool{}
	for _, o := range b.Objects {
		if o.Kind == "Namespace" {
			defined[o.Name] = true
		}
	}
	missing := map[string][]string{}
	for _, o := range b.Objects {
		if o.Namespace != "" && !defined[o.Namespace] && !systemNamespace(o.Namespace) {
			missing[o.Namespace] = append(missing[o.Namespace], o.Ref())
		}
		switch {
		case o.Kind == "IngressRoute" && o.Group() == OldTraefikGroup:
			v.add(serviceOf(o), cl.Name, "IngressRoute %s uses the %s API group, removed in Traefik v3; use %s/v1alpha1", o.Ref(), OldTraefikGroup, TraefikGroup)
		case o.Kind == "Service" && o.Group() == "":
			s, err := o.Service()
			if err != nil {
				v.add(o.Name, cl.Name, "%v", err)
				continue
			}
			if s.Spec.Type == corev1.ServiceTypeExternalName && (s.Spec.ClusterIP != "" || len(s.Spec.ClusterIPs) > 0) {
				v.add(o.Name, cl.Name, "ExternalName Service %s sets clusterIP %q; the API server rejects it", o.Ref(), s.Spec.ClusterIP)
			}
		}
	}
	for _, ns := range sortedKeysOf(missing) {
		v.add("", cl.Name, "the build has no Namespace %s for %s: the apply fails, or pruning deletes them with the Namespace",
			ns, strings.Join(missing[ns], ", "))
	}
}

// serviceOf names the service an IngressRoute forwards to, for findings about it.
func serviceOf(o Object) string {
	ir, err := o.IngressRoute()
	if err != nil {
		return ""
	}
	for _, route := range ir.Spec.Routes {
		for _, rs := range route.Services {
			return rs.Name
		}
	}
	return ""
}

// checkService follows the service's name from every cluster that needs it.
func (v *verifier) checkService(svc config.Service) {
	ports, err := v.model.Ports(svc.Name)
	if err != nil {
		v.add(svc.Name, "", "%v", err)
		return
	}
	if len(v.model.Running(svc.Name)) == 0 {
		v.add(svc.Name, "", "no cluster runs it: no build has Deployment %s/%s", svc.Namespace, svc.Name)
	}
	need := map[string]string{}
	for _, client := range svc.Clients {
		for _, cluster := range v.model.Running(client) {
			need[cluster] = fmt.Sprintf("its client %s runs there", client)
		}
	}
	for _, cl := range v.cfg.Clusters {
		if _, ok := v.model.Builds[cl.Name].Find("Service", svc.Namespace, svc.Name); ok {
			if _, already := need[cl.Name]; !already {
				need[cl.Name] = "a Service of its name exists there"
			}
		}
	}
	for _, cluster := range sortedKeysOf(need) {
		if problem := v.resolve(svc, ports, cluster, nil); problem != "" {
			v.add(svc.Name, cluster, "%s (checked because %s)", problem, need[cluster])
		}
	}
}

// resolve follows the service's name in a cluster to a Deployment and returns what
// broke on the way, or "".
func (v *verifier) resolve(svc config.Service, ports []Port, cluster string, path []string) string {
	path = append(path, cluster)
	if slices.Contains(path[:len(path)-1], cluster) {
		return "ExternalName loop: " + strings.Join(path, " → ")
	}
	b := v.model.Builds[cluster]
	obj, ok := b.Find("Service", svc.Namespace, svc.Name)
	if !ok {
		return fmt.Sprintf("no Service %s/%s in %s, so its name does not resolve there", svc.Namespace, svc.Name, cluster)
	}
	s, err := obj.Service()
	if err != nil {
		return err.Error()
	}
	if s.Spec.Type != corev1.ServiceTypeExternalName {
		return v.resolveLocal(svc, b, s)
	}
	target, ok := v.cfg.ClusterByDNSName(s.Spec.ExternalName)
	if !ok {
		return fmt.Sprintf("ExternalName Service %s/%s in %s points at %q, which is no cluster's ingress dnsName",
			svc.Namespace, svc.Name, cluster, s.Spec.ExternalName)
	}
	tb := v.model.Builds[target.Name]
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
func (v *verifier) resolveLocal(svc config.Service, b *Build, s *corev1.Service) string {
	for _, o := range b.Objects {
		if o.Kind != "Deployment" || o.Namespace != svc.Namespace {
			continue
		}
		d, err := o.Deployment()
		if err != nil {
			return err.Error()
		}
		if selects(s.Spec.Selector, d.Spec.Template.Labels) {
			return ""
		}
	}
	return fmt.Sprintf("Service %s/%s in %s selects no Deployment there", svc.Namespace, svc.Name, b.Cluster)
}

// routed checks that the target cluster's Traefik forwards port p of the service, on the
// entry point listening on p, for every in-cluster name of the service.
func (v *verifier) routed(svc config.Service, p Port, target config.Cluster, tb *Build) string {
	ep, ok := target.EntryPointForPort(p.Port)
	if !ok {
		return fmt.Sprintf("%s's Traefik has no entry point on port %d (%s)", target.Name, p.Port, portLabel(p))
	}
	want := InClusterHosts(svc.Name, svc.Namespace)
	var best []string // the hosts missing from the closest route seen
	for _, o := range tb.Objects {
		if o.Kind != "IngressRoute" || o.Group() != TraefikGroup {
			continue
		}
		ir, err := o.IngressRoute()
		if err != nil || !slices.Contains(ir.Spec.EntryPoints, ep) {
			continue
		}
		for _, route := range ir.Spec.Routes {
			if !v.forwardsPort(route, o, svc, p, tb) {
				continue
			}
			hosts := Hosts(route.Match)
			var missing []string
			for _, h := range want {
				if !slices.Contains(hosts, h) {
					missing = append(missing, h)
				}
			}
			if len(missing) == 0 {
				return ""
			}
			if best == nil || len(missing) < len(best) {
				best = missing
			}
		}
	}
	if best != nil {
		return fmt.Sprintf("%s's IngressRoute on entry point %s does not match host %s", target.Name, ep, strings.Join(best, ", "))
	}
	return fmt.Sprintf("no traefik.io IngressRoute in %s forwards entry point %s (port %d) to Service %s/%s port %d",
		target.Name, ep, p.Port, svc.Namespace, svc.Name, p.Port)
}

// forwardsPort reports whether a route sends traffic to the service's port p.
func (v *verifier) forwardsPort(route Route, ir Object, svc config.Service, p Port, tb *Build) bool {
	for _, rs := range route.Services {
		if rs.Name != svc.Name || routeNamespace(rs, ir) != svc.Namespace || (rs.Kind != "" && rs.Kind != "Service") {
			continue
		}
		number, name := rs.PortRef()
		if number == p.Port {
			return true
		}
		if name != "" && name == v.portName(tb, svc, p.Port) {
			return true
		}
	}
	return false
}

// portName returns the name the target's Service gives to a port number.
func (v *verifier) portName(tb *Build, svc config.Service, port int32) string {
	obj, ok := tb.Find("Service", svc.Namespace, svc.Name)
	if !ok {
		return ""
	}
	s, err := obj.Service()
	if err != nil {
		return ""
	}
	for _, sp := range s.Spec.Ports {
		if sp.Port == port {
			return sp.Name
		}
	}
	return ""
}
