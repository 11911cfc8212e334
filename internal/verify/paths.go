package verify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
)

// Path is how a client of a service, where it runs, reaches the service: the clusters
// the service's name leads through, by ExternalName Services, to one that runs it.
type Path struct {
	Client  string `json:"client"`
	Cluster string `json:"cluster"`
	// Hops are the clusters after Cluster that the name leads to, in order; the last
	// runs the service. Empty when the service runs in Cluster itself.
	Hops []string `json:"hops,omitempty"`
	// LatencyMS is the sum of gitmig.yaml's latencies along the path; LatencyKnown is
	// false when one of them is not in gitmig.yaml.
	LatencyMS    float64 `json:"latencyMs"`
	LatencyKnown bool    `json:"latencyKnown"`
	// Problem says why the name leads nowhere, when it does not.
	Problem string `json:"problem,omitempty"`
}

// Chained reports whether the path goes through more than one ExternalName: a client
// that reaches the service through a cluster that does not run it.
func (p Path) Chained() bool { return len(p.Hops) > 1 }

// String spells the path as "agw@edge → cloud (1 hop, 20ms)".
func (p Path) String() string {
	route := strings.Join(append([]string{p.Client + "@" + p.Cluster}, p.Hops...), " → ")
	if p.Problem != "" {
		return route + ": " + p.Problem
	}
	return fmt.Sprintf("%s (%s, %s)", route, Hops(len(p.Hops)), p.Latency())
}

// Latency spells the path's latency, as the plan does: "20ms", or "latency not in
// gitmig.yaml" where gitmig.yaml does not give one of its hops.
func (p Path) Latency() string {
	if !p.LatencyKnown {
		return "latency not in gitmig.yaml"
	}
	return fmt.Sprintf("%gms", p.LatencyMS)
}

// Hops spells a number of hops: "local", "1 hop", "2 hops".
func Hops(n int) string {
	switch n {
	case 0:
		return "local"
	case 1:
		return "1 hop"
	}
	return fmt.Sprintf("%d hops", n)
}

// Paths follows the service's name from every cluster where one of its clients runs,
// sorted by client, then cluster. It is what clients have in the model: after a
// migration, each should reach the service's home in one hop.
func Paths(m *fleet.Model, svc config.Service) []Path {
	var paths []Path
	for _, name := range svc.Clients {
		client, ok := m.Config.Service(name)
		if !ok {
			continue
		}
		for _, cluster := range m.Running(client) {
			paths = append(paths, follow(m, svc, name, cluster))
		}
	}
	slices.SortFunc(paths, func(a, b Path) int {
		if c := strings.Compare(a.Client, b.Client); c != 0 {
			return c
		}
		return strings.Compare(a.Cluster, b.Cluster)
	})
	return paths
}

// follow resolves the service's name from a client's cluster, one ExternalName at a
// time, adding up the latencies.
func follow(m *fleet.Model, svc config.Service, client, from string) Path {
	p := Path{Client: client, Cluster: from, LatencyKnown: true}
	at := from
	for seen := []string{from}; ; {
		b := m.Build(at)
		obj, ok := b.Service(svc.Namespace, svc.Name)
		if !ok {
			p.Problem = fmt.Sprintf("no Service %s/%s in %s", svc.Namespace, svc.Name, at)
			return p
		}
		if !obj.Service.IsExternalName() {
			if _, runs := b.Deployment(svc.Namespace, svc.Name); !runs {
				p.Problem = fmt.Sprintf("%s does not run %s", at, svc.Name)
			}
			return p
		}
		target, ok := m.Config.ClusterByDNSName(obj.Service.ExternalName)
		if !ok {
			p.Problem = fmt.Sprintf("ExternalName %q in %s is no cluster's ingress", obj.Service.ExternalName, at)
			return p
		}
		ms, known := m.Config.LatencyMS(at, target.Name)
		p.LatencyMS += ms
		p.LatencyKnown = p.LatencyKnown && known
		p.Hops = append(p.Hops, target.Name)
		if slices.Contains(seen, target.Name) {
			p.Problem = "ExternalName loop"
			return p
		}
		seen = append(seen, target.Name)
		at = target.Name
	}
}
