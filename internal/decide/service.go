package decide

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/traffic"
)

// serviceState is one service of gitmig.yaml with everything the engine looks up about
// it, resolved to indexes once so that assessing thousands of (service, cluster) pairs
// does no map or list search.
type serviceState struct {
	cfg config.Service
	// ref is the service's Service as namespace/name.
	ref     string
	running []*clusterState
	ports   []portRoute
	// tiers is nil when every tier is allowed.
	tiers map[string]bool
	// deps are the services it calls.
	deps []*serviceState
	// clients are the clusters where its clients run, each with the clients' names.
	clients []clientPlacement
	// routedFrom is a cluster that runs the service and routes to it through a Traefik
	// route: from there it is reachable from every cluster. Empty when none.
	routedFrom string

	migrating *Migration
	coolAll   time.Time
	coolTo    map[string]time.Time
	handled   bool
}

// portRoute is a port of a service and how Traefik carries it.
type portRoute struct {
	name string
	port int32
	kind traffic.Kind
	// unroutable says why no Traefik route can carry the port; "" when one can.
	unroutable string
}

func newPortRoutes(ports []Port) []portRoute {
	routes := make([]portRoute, len(ports))
	for i, p := range ports {
		routes[i].name, routes[i].port = p.Name, p.Port
		var err error
		if routes[i].kind, err = traffic.KindOf(p.Protocol, p.AppProtocol); err != nil {
			routes[i].unroutable = err.Error()
		}
	}
	return routes
}

// arrive records in c the routes s will have there once it moves: planned or in
// flight, they are not in the builds yet.
func (c *clusterState) arrive(s *serviceState) {
	for _, p := range s.ports {
		if ep, ok := c.entryPoints[p.port]; ok && p.unroutable == "" {
			c.use[ep.name] = c.use[ep.name].With(s.ref, p.kind)
		}
	}
}

type clientPlacement struct {
	cluster *clusterState
	names   string
}

// runsIn reports whether the service's Deployment is in cluster c.
func (s *serviceState) runsIn(c *clusterState) bool {
	return slices.Contains(s.running, c)
}

func (s *serviceState) allowsTier(tier string) bool {
	return s.tiers == nil || s.tiers[tier]
}

// coolingDown returns the end of the cooldown that forbids moving to dest, if any.
func (s *serviceState) coolingDown(dest string, at time.Time) (time.Time, bool) {
	if s.coolAll.After(at) {
		return s.coolAll, true
	}
	if until, ok := s.coolTo[dest]; ok && until.After(at) {
		return until, true
	}
	return time.Time{}, false
}

// newServiceStates resolves every service of the input's config, sorted by name.
func newServiceStates(in Input, clusters map[string]*clusterState) []*serviceState {
	cfg, fleet := in.Config, in.Fleet
	byName := map[string]*serviceState{}
	services := make([]*serviceState, 0, len(cfg.Services))
	for _, sc := range cfg.Services {
		s := &serviceState{cfg: sc, ref: sc.Namespace + "/" + sc.Name, ports: newPortRoutes(fleet.Ports[sc.Name]), coolTo: map[string]time.Time{}}
		for _, name := range sortedCopy(fleet.Running[sc.Name]) {
			if c := clusters[name]; c != nil && !slices.Contains(s.running, c) {
				s.running = append(s.running, c)
			}
		}
		if len(sc.Tiers) > 0 {
			s.tiers = map[string]bool{}
			for _, t := range sc.Tiers {
				s.tiers[t] = true
			}
		}
		for _, name := range sortedCopy(fleet.Routed[sc.Name]) {
			if slices.Contains(fleet.Running[sc.Name], name) {
				s.routedFrom = name
				break
			}
		}
		byName[sc.Name] = s
		services = append(services, s)
	}
	slices.SortFunc(services, func(a, b *serviceState) int { return strings.Compare(a.cfg.Name, b.cfg.Name) })
	for _, s := range services {
		// D is a dependency of S when S is among D's clients.
		perCluster := map[*clusterState][]string{}
		for _, clientName := range s.cfg.Clients {
			client := byName[clientName]
			if client == nil {
				continue
			}
			client.deps = append(client.deps, s)
			for _, c := range client.running {
				perCluster[c] = append(perCluster[c], clientName)
			}
		}
		for c, names := range perCluster {
			slices.Sort(names)
			s.clients = append(s.clients, clientPlacement{cluster: c, names: strings.Join(slices.Compact(names), ", ")})
		}
		slices.SortFunc(s.clients, func(a, b clientPlacement) int { return strings.Compare(a.cluster.name, b.cluster.name) })
	}
	for _, s := range services {
		slices.SortFunc(s.deps, func(a, b *serviceState) int { return strings.Compare(a.cfg.Name, b.cfg.Name) })
		s.deps = slices.Compact(s.deps)
	}
	for i := range in.InFlight {
		m := &in.InFlight[i]
		// The first record wins if one service somehow has two, so that the order of
		// the records never changes the plan.
		if s := byName[m.Service]; s != nil && (s.migrating == nil || cmpMigration(*m, *s.migrating) < 0) {
			s.migrating = m
		}
	}
	for _, cd := range in.Cooldowns {
		s := byName[cd.Service]
		if s == nil {
			continue
		}
		if cd.Cluster == "" {
			if cd.Until.After(s.coolAll) {
				s.coolAll = cd.Until
			}
			continue
		}
		if cd.Until.After(s.coolTo[cd.Cluster]) {
			s.coolTo[cd.Cluster] = cd.Until
		}
	}
	return services
}

func cmpMigration(a, b Migration) int {
	return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.From, b.From), strings.Compare(a.To, b.To), a.Step-b.Step)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
