// Package config loads, defaults and validates gitmig.yaml, the file that describes a
// fleet's clusters, the services gitmig may move, the decision policy and the GitOps
// repository it works through.
package config

import (
	"time"
)

// APIVersion and Kind identify a gitmig.yaml document.
const (
	APIVersion = "gitmig.dev/v1alpha1"
	Kind       = "Config"
)

// Tiers, from the closest to the users to the farthest.
const (
	TierEdge  = "edge"
	TierFog   = "fog"
	TierCloud = "cloud"
)

// TierRank orders tiers from the closest (0) to the farthest; unknown tiers rank -1.
func TierRank(tier string) int {
	switch tier {
	case TierEdge:
		return 0
	case TierFog:
		return 1
	case TierCloud:
		return 2
	}
	return -1
}

// Config is the whole of gitmig.yaml.
type Config struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Clusters   []Cluster      `json:"clusters"`
	Latency    []LatencyEntry `json:"latency,omitempty"`
	Services   []Service      `json:"services"`
	Policy     Policy         `json:"policy"`
	GitOps     GitOps         `json:"gitops"`
}

// Cluster is one Kubernetes cluster of the fleet and its kustomize overlay.
type Cluster struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	// Path is the overlay folder, relative to the repository root; clusters/<name> when empty.
	Path     string    `json:"path,omitempty"`
	Capacity *Capacity `json:"capacity,omitempty"`
	Ingress  Ingress   `json:"ingress"`
}

// Capacity is what a cluster can give to workloads. Quantities use Kubernetes notation.
type Capacity struct {
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// Ingress describes the cluster's Traefik load balancer.
type Ingress struct {
	// DNSName resolves to this cluster's Traefik load balancer; ExternalName Services
	// of migrated services point at it.
	DNSName string `json:"dnsName"`
	// Address is the load balancer's IP, written into DNSEndpoint records.
	Address string `json:"address,omitempty"`
	// EntryPoints maps Traefik entry point names to the port they listen on and the
	// protocol their clients speak.
	EntryPoints map[string]EntryPoint `json:"entryPoints"`
}

// EntryPoint is one of the entry points of a cluster's Traefik. gitmig.yaml gives it as
// its port alone (`web: 80`, an http entry point) or as `{port: 5432, protocol: tcp}`.
type EntryPoint struct {
	Port int32 `json:"port"`
	// Protocol is what clients speak to it, as package traffic names entry point
	// protocols: http (the default), tls, tcp or udp.
	Protocol string `json:"protocol,omitempty"`
}

// LatencyEntry is the symmetric round trip between two clusters.
type LatencyEntry struct {
	Between []string `json:"between"`
	MS      float64  `json:"ms"`
}

// Service is a microservice gitmig may move.
type Service struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Base is the kustomize base folder holding its Deployment and Service.
	Base string `json:"base"`
	// Clients are the services that call this one.
	Clients      []string `json:"clients,omitempty"`
	MaxLatencyMS *float64 `json:"maxLatencyMs,omitempty"`
	// Tiers the service may run in; every tier when empty.
	Tiers  []string `json:"tiers,omitempty"`
	Pinned bool     `json:"pinned,omitempty"`
	// Hosts are names clients reach the service by besides its in-cluster names, such
	// as controller.example.net: the routes gitmig writes match them too.
	Hosts []string `json:"hosts,omitempty"`
	// Ports says what ports of its Service speak where the base does not say it with
	// appProtocol, or says it wrong.
	Ports []PortProtocol `json:"ports,omitempty"`
}

// PortProtocol overrides the appProtocol of one port of a service's Service, named by
// its name or its number.
type PortProtocol struct {
	Name        string `json:"name,omitempty"`
	Port        int32  `json:"port,omitempty"`
	AppProtocol string `json:"appProtocol"`
}

// Policy drives the decision engine and the pace of migrations.
type Policy struct {
	Prometheus    Prometheus `json:"prometheus"`
	Queries       Queries    `json:"queries"`
	Overload      Thresholds `json:"overload"`
	Target        Thresholds `json:"target"`
	Sustain       Duration   `json:"sustain"`
	Cooldown      Duration   `json:"cooldown"`
	MaxConcurrent int        `json:"maxConcurrent"`
	Stickiness    float64    `json:"stickiness"`
	// RouteSettle holds the route step this long after it is applied before the flip
	// opens, for Traefik to load the new routes: it applies provider changes in
	// batches (providersThrottleDuration, 2s by default) and answers 404 until then.
	RouteSettle Duration `json:"routeSettle"`
	Drain       Duration `json:"drain"`
	StepTimeout Duration `json:"stepTimeout"`
	// IdleRate is the request rate, per second, below which a drained source counts as
	// idle; it matters only with queries.requestRate.
	IdleRate float64 `json:"idleRate"`
}

// Prometheus says where the metrics are and how to authenticate. Credentials are never
// in the file: only the names of the environment variables that hold them.
type Prometheus struct {
	URL          string   `json:"url"`
	Timeout      Duration `json:"timeout"`
	ClusterLabel string   `json:"clusterLabel"`
	// BearerTokenEnv names an environment variable holding a bearer token.
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
	// BasicAuth names the environment variables holding a username and a password.
	BasicAuth *BasicAuthEnv `json:"basicAuth,omitempty"`
}

// BasicAuthEnv names the environment variables of HTTP basic auth credentials.
type BasicAuthEnv struct {
	UsernameEnv string `json:"usernameEnv"`
	PasswordEnv string `json:"passwordEnv"`
}

// Queries are the PromQL expressions and label names the engine uses, so that Thanos or
// Mimir setups with other label names work. Every field has a default.
type Queries struct {
	NamespaceLabel string `json:"namespaceLabel,omitempty"`
	WorkloadLabel  string `json:"workloadLabel,omitempty"`
	CPUUsage       string `json:"cpuUsage,omitempty"`
	MemoryUsage    string `json:"memoryUsage,omitempty"`
	CPURequests    string `json:"cpuRequests,omitempty"`
	MemoryRequests string `json:"memoryRequests,omitempty"`
	CPUCapacity    string `json:"cpuCapacity,omitempty"`
	MemoryCapacity string `json:"memoryCapacity,omitempty"`
	// ReplicasAvailable and ReplicasDesired are Go templates of one Deployment's
	// kube-state-metrics series, with {{.Cluster}}, {{.Namespace}} and {{.Service}};
	// the gates use them for clusters whose gitops.workloads entry says prometheus.
	ReplicasAvailable string `json:"replicasAvailable,omitempty"`
	ReplicasDesired   string `json:"replicasDesired,omitempty"`
	// RequestRate is a template of the requests per second a service receives in a
	// cluster, for example from Traefik or a service mesh. When set, cleanup waits
	// until the source's rate stays at or below policy.idleRate for three evaluations.
	RequestRate string `json:"requestRate,omitempty"`
}

// Thresholds are utilisation fractions in (0,1].
type Thresholds struct {
	CPU    float64 `json:"cpu"`
	Memory float64 `json:"memory"`
}

// Engines that apply the overlays.
const (
	EngineArgoCD = "argocd"
	EngineFlux   = "flux"
	EngineNone   = "none"
)

// Forges that host the pull requests.
const (
	ForgeGitHub = "github"
	ForgeLocal  = "local"
)

// DNS modes for routing a moved service.
const (
	DNSExternalName = "externalname"
	DNSExternalDNS  = "externaldns"
)

// GitOps describes the repository gitmig edits and the engine that applies it.
type GitOps struct {
	Remote    string                    `json:"remote"`
	Branch    string                    `json:"branch"`
	Engine    string                    `json:"engine"`
	Forge     string                    `json:"forge"`
	GitHub    *GitHub                   `json:"github,omitempty"`
	DNS       string                    `json:"dns"`
	ArgoCD    *ArgoCD                   `json:"argocd,omitempty"`
	Flux      *Flux                     `json:"flux,omitempty"`
	Workloads map[string]WorkloadAccess `json:"workloads,omitempty"`
	// TokenEnv names the environment variable with the token for an HTTPS remote that
	// is not GitHub; with forge github, github.tokenEnv is used.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// Author signs gitmig's commits.
	Author *Author `json:"author,omitempty"`
	// AutoMerge lists the steps (deploy, route, flip, cleanup) gitmig merges itself once
	// the previous step's gate passes; cleanup only when listed.
	AutoMerge []string `json:"autoMerge,omitempty"`
}

// Author is the name and email on gitmig's commits.
type Author struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// GitHub locates the repository on GitHub; the token is read from TokenEnv.
type GitHub struct {
	Owner    string `json:"owner"`
	Repo     string `json:"repo"`
	TokenEnv string `json:"tokenEnv"`
	// APIURL is the REST API root of a GitHub Enterprise Server,
	// https://HOST/api/v3/; GitHub's own when empty.
	APIURL string `json:"apiURL,omitempty"`
}

// KubeTarget is a kubeconfig and context; in-cluster config when Kubeconfig is empty.
type KubeTarget struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
}

// WorkloadAccess says how the gates look at one cluster's workloads: through its API
// server, or, with Prometheus true, through kube-state-metrics.
type WorkloadAccess struct {
	KubeTarget `json:",inline"`
	Prometheus bool `json:"prometheus,omitempty"`
}

// ArgoCD says where the Applications of each cluster live.
type ArgoCD struct {
	KubeTarget   `json:",inline"`
	Namespace    string            `json:"namespace"`
	Applications map[string]string `json:"applications"`
}

// Flux says where the Kustomizations of each cluster live.
type Flux struct {
	KubeTarget     `json:",inline"`
	Namespace      string            `json:"namespace"`
	Kustomizations map[string]string `json:"kustomizations"`
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration struct{ time.Duration }
