package gitops

import (
	"fmt"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/decide"
	"github.com/gitmig/gitmig/internal/render"
)

// Fleet reads the placement of every service of cfg from the built overlays: where its
// Deployment runs, where an IngressRoute routes to it, and its Service ports.
func Fleet(cfg *config.Config, model *render.Model) (decide.Fleet, error) {
	fleet := decide.Fleet{
		Running: map[string][]string{},
		Routed:  map[string][]string{},
		Ports:   map[string][]decide.Port{},
	}
	for _, s := range cfg.Services {
		fleet.Running[s.Name] = model.Running(s.Name)
		fleet.Routed[s.Name] = model.RoutedIn(s.Name)
		ports, err := model.Ports(s.Name)
		if err != nil {
			return decide.Fleet{}, fmt.Errorf("reading the ports of service %s from %s: %w", s.Name, s.Base, err)
		}
		for _, p := range ports {
			fleet.Ports[s.Name] = append(fleet.Ports[s.Name], decide.Port{Name: p.Name, Port: p.Port, Protocol: p.Protocol})
		}
	}
	return fleet, nil
}
