package gitops

import (
	"fmt"

	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/traffic"
)

// Placement reads the placement of every service of the model's gitmig.yaml from its
// builds: where its Deployment runs, where a Traefik route routes to it, its Service
// ports and what each speaks; and what each cluster's routes send through its entry
// points.
func Placement(model *fleet.Model) (decide.Fleet, error) {
	placement := decide.Fleet{
		Running:     map[string][]string{},
		Routed:      map[string][]string{},
		Ports:       map[string][]decide.Port{},
		EntryPoints: map[string]map[string]traffic.EntryPointUse{},
	}
	for _, cluster := range model.Clusters() {
		placement.EntryPoints[cluster] = model.Build(cluster).EntryPoints()
	}
	for _, s := range model.Config.Services {
		placement.Running[s.Name] = model.Running(s)
		placement.Routed[s.Name] = model.RoutedIn(s)
		if len(placement.Running[s.Name]) == 0 {
			// Nothing to move, and no build to read its ports from.
			continue
		}
		ports, err := model.Ports(s)
		if err != nil {
			return decide.Fleet{}, fmt.Errorf("reading the ports of service %s: %w", s.Name, err)
		}
		for _, p := range ports {
			placement.Ports[s.Name] = append(placement.Ports[s.Name], decide.Port{Name: p.Name, Port: p.Port, Protocol: p.Protocol, AppProtocol: p.AppProtocolOf(s)})
		}
	}
	return placement, nil
}
