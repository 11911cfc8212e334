// Package decide turns metrics, the current placement of services and gitmig.yaml's
// policy into a Plan: which service leaves which cluster for which other, and why.
//
// NewPlan is a pure function of its Input: it reads no clock, no file and no network,
// and the same Input always yields a byte-identical Plan. The metrics are a
// metrics.Snapshot, read from Prometheus or a MetricsSnapshot file by package metrics,
// so that every decision can be replayed and explained offline.
package decide

import (
	"time"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
	"github.com/gitmig/gitmig/internal/traffic"
)

// Input is everything a plan depends on.
type Input struct {
	Config  *config.Config
	Fleet   Fleet
	Metrics *metrics.Snapshot
	// InFlight are the migrations started and not yet finished.
	InFlight []Migration
	// Recent are the migrations completed within the last policy.sustain: the
	// sustained metrics may still count the service where it was, so its load is
	// credited to its source and promised to its destination, as for one in flight,
	// but it holds no slot of policy.maxConcurrent.
	Recent []Migration
	// Cooldowns are the (service, destination) pairs that must not be chosen yet.
	Cooldowns []Cooldown
}

// Fleet is the current placement of services, as the kustomize builds of the cluster
// overlays show it.
type Fleet struct {
	// Running maps a service to the clusters whose overlay build has its Deployment.
	Running map[string][]string
	// Routed maps a service to the clusters whose build has a traefik.io route of any
	// kind routing to it.
	Routed map[string][]string
	// Ports maps a service to the ports of its Service, from its base.
	Ports map[string][]Port
	// EntryPoints maps a cluster to what its Traefik routes send through each entry
	// point, by entry point name.
	EntryPoints map[string]map[string]traffic.EntryPointUse
}

// Port is one port of a service's Kubernetes Service.
type Port struct {
	Name     string
	Port     int32
	Protocol string
	// AppProtocol is what the port speaks: gitmig.yaml's override for it, else its
	// appProtocol.
	AppProtocol string
}

// Migration is a migration in flight: its service's requests and usage are promised to
// the destination until it ends.
type Migration struct {
	Service string
	From    string
	To      string
	// Step is the step in progress, 1 (deploy) to 4 (cleanup).
	Step int
}

// Cooldown forbids moving Service to Cluster (to any cluster when Cluster is empty)
// before Until.
type Cooldown struct {
	Service string
	Cluster string
	Until   time.Time
}
