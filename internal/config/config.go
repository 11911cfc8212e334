// Package config loads, defaults and validates gitmig.yaml, the file that describes a
// fleet's clusters, the services gitmig may move, the decision policy and the GitOps
// repository it works through.
package config

//go:generate go run ../../hack/configref -root ../.. -o ../../docs/config-reference.md

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
	// APIVersion must be gitmig.dev/v1alpha1.
	APIVersion string `json:"apiVersion"`
	// Kind must be Config.
	Kind string `json:"kind"`
	// Clusters are the fleet's clusters, at least one; a migration moves a service
	// from one to another.
	Clusters []Cluster `json:"clusters"`
	// Latency lists the round trips between clusters that the plan weighs against the
	// services' clients; a pair not listed has an unknown latency.
	Latency []LatencyEntry `json:"latency,omitempty"`
	// Services are the microservices gitmig may move and verify; no other is ever
	// touched.
	Services []Service `json:"services"`
	// Policy decides when a service moves, where, and how fast.
	Policy Policy `json:"policy"`
	// GitOps is the repository gitmig edits, where its pull requests live and the
	// engine that applies the overlays.
	GitOps GitOps `json:"gitops"`

	// source is the document Parse decoded, so that a reader of the same bytes can
	// take this Config instead of decoding a fleet's worth of YAML again.
	source []byte
}

// Cluster is one Kubernetes cluster of the fleet and its kustomize overlay.
type Cluster struct {
	// Name identifies the cluster in overlays, records, branch and pull request
	// titles: a DNS label (lowercase letters, digits and dashes), unique. Required.
	Name string `json:"name"`
	// Tier is edge, fog or cloud, from the closest to the users to the farthest. The
	// plan moves services out of overloaded clusters, and back to a closer tier when
	// one can take them. Required.
	Tier string `json:"tier"`
	// Path is the cluster's kustomize overlay folder, relative to the repository root
	// and unique; clusters/<name> when empty.
	Path string `json:"path,omitempty"`
	// Capacity is what the cluster gives to workloads. Where it is set, it replaces the
	// capacity queries for this cluster.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Ingress is the cluster's Traefik, through which other clusters reach the services
	// moved into it.
	Ingress Ingress `json:"ingress"`
}

// Capacity is what a cluster can give to workloads. Quantities use Kubernetes notation.
type Capacity struct {
	// CPU is a Kubernetes quantity of cores, such as "8" (quoted, or YAML reads a
	// number) or 7500m; positive. Else the cpuCapacity query says.
	CPU string `json:"cpu,omitempty"`
	// Memory is a Kubernetes quantity of bytes, such as 16Gi; positive. Else the
	// memoryCapacity query says.
	Memory string `json:"memory,omitempty"`
}

// Ingress describes the cluster's Traefik load balancer.
type Ingress struct {
	// DNSName resolves, from pods in every other cluster, to this cluster's Traefik
	// load balancer; the ExternalName Services of services moved here point at it, and
	// their routes match it. A DNS name, unique among clusters. Required.
	DNSName string `json:"dnsName"`
	// Address is the load balancer's IP address, written into the DNSEndpoint records
	// of gitops.dns externaldns, which requires it.
	Address string `json:"address,omitempty"`
	// EntryPoints maps Traefik entry point names to the port they listen on and the
	// protocol their clients speak: `web: 80` for an http one, or `{port: 5432,
	// protocol: tcp}`.
	EntryPoints map[string]EntryPoint `json:"entryPoints"`
}

// EntryPoint is one of the entry points of a cluster's Traefik. gitmig.yaml gives it as
// its port alone (`web: 80`, an http entry point) or as `{port: 5432, protocol: tcp}`.
type EntryPoint struct {
	// Port is the port the entry point listens on. Required.
	Port int32 `json:"port"`
	// Protocol is what clients speak to it: http (the default; HTTP and h2c routes),
	// tls (TLS routed by SNI, passed through), tcp or udp (one service each).
	Protocol string `json:"protocol,omitempty"`
}

// LatencyEntry is the symmetric round trip between two clusters.
type LatencyEntry struct {
	// Between names two different clusters; each pair at most once.
	Between []string `json:"between"`
	// MS is the round trip between them, in milliseconds; not negative.
	MS float64 `json:"ms"`
}

// Service is a microservice gitmig may move.
type Service struct {
	// Name is the name of the service's Deployment and Service: a DNS label, unique.
	// Required.
	Name string `json:"name"`
	// Namespace is the namespace of its Deployment and Service. Required.
	Namespace string `json:"namespace"`
	// Base is the kustomize base folder holding its Deployment and Service, relative to
	// the repository root; the overlays of the clusters that run it list it in their
	// resources. Required.
	Base string `json:"base"`
	// Clients are the services, by name, that call this one: a move must keep it
	// within maxLatencyMs of each, and where a client moves it must still reach this
	// service.
	Clients []string `json:"clients,omitempty"`
	// MaxLatencyMS is the longest round trip, in milliseconds, allowed between the
	// service and each of its clients after a move; not negative. When empty, latency
	// only scores destinations, against the longest latency listed.
	MaxLatencyMS *float64 `json:"maxLatencyMs,omitempty"`
	// Tiers are the tiers the service may run in (edge, fog, cloud); every tier when
	// empty.
	Tiers []string `json:"tiers,omitempty"`
	// Pinned keeps the service where it runs: the plan never moves it.
	Pinned bool `json:"pinned,omitempty"`
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
	// Name is the port's name in the Service; Name or Port is required.
	Name string `json:"name,omitempty"`
	// Port is the port's number in the Service.
	Port int32 `json:"port,omitempty"`
	// AppProtocol is what the port speaks, as Kubernetes' appProtocol names it (http,
	// https, kubernetes.io/h2c, kubernetes.io/ws, grpc, tcp, udp, ...). Required.
	AppProtocol string `json:"appProtocol"`
}

// Policy drives the decision engine and the pace of migrations.
type Policy struct {
	// Prometheus is where the metrics are read.
	Prometheus Prometheus `json:"prometheus"`
	// Queries are the PromQL the metrics are read with.
	Queries Queries `json:"queries"`
	// Overload is the sustained utilisation (sustained usage / capacity) above which a
	// cluster is Overloaded and services move out of it.
	Overload Thresholds `json:"overload"`
	// Target is the utilisation a destination must stay within after a move, for its
	// current usage and its requests alike, and the one a source is relieved down to.
	// Each at most the matching overload threshold, so that a move cannot itself
	// overload its destination.
	Target Thresholds `json:"target"`
	// Sustain is the window over which utilisation must stay above overload: sustained
	// usage is the minimum of a cluster's total usage over it, so a spike never moves
	// a service. A snapshot whose window is shorter makes its clusters Unknown.
	Sustain Duration `json:"sustain"`
	// Cooldown holds a service still after its migration ends: a completed one keeps
	// it from moving at all, an aborted or rolled-back one keeps it from that
	// destination.
	Cooldown Duration `json:"cooldown"`
	// MaxConcurrent is how many migrations may be in flight at once; at least 1. A
	// migration in flight holds its slot until it ends.
	MaxConcurrent int `json:"maxConcurrent"`
	// Stickiness is the score margin, 0 to 100, that a move back to a closer tier
	// must win by over staying: it is added to the current cluster's score, so that a
	// service does not go back and forth.
	Stickiness float64 `json:"stickiness"`
	// RouteSettle is how long the route (step 2) holds, once applied, before the flip
	// (step 3) opens, for Traefik to load the new routes: it applies provider changes
	// in batches (providersThrottleDuration, 2s by default) and answers 404 until then.
	RouteSettle Duration `json:"routeSettle"`
	// Drain is how long the flip (step 3) holds, once applied, before cleanup (step 4)
	// opens: clients that resolved the old address finish with the source's pods.
	Drain Duration `json:"drain"`
	// StepTimeout is how long a merged step may take to be applied and pass its gate;
	// past it the migration is rolled back. Longer than drain and routeSettle.
	StepTimeout Duration `json:"stepTimeout"`
	// IdleRate is the request rate, per second, at or below which a drained source
	// counts as idle; it matters only with queries.requestRate. Not negative.
	IdleRate float64 `json:"idleRate"`
}

// Prometheus says where the metrics are and how to authenticate. Credentials are never
// in the file: only the names of the environment variables that hold them.
type Prometheus struct {
	// URL is the Prometheus HTTP API root, or that of a compatible API such as Thanos
	// or Mimir: an http(s) URL without credentials. The --prometheus flag, then the
	// environment variable GITMIG_PROMETHEUS_URL, override it.
	URL string `json:"url"`
	// Timeout bounds each query, its retries included; positive.
	Timeout Duration `json:"timeout"`
	// ClusterLabel is the label that says which cluster a series comes from; its
	// values are the clusters' names.
	ClusterLabel string `json:"clusterLabel"`
	// BearerTokenEnv names an environment variable holding a bearer token.
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
	// BasicAuth names the environment variables holding a username and a password.
	BasicAuth *BasicAuthEnv `json:"basicAuth,omitempty"`
}

// BasicAuthEnv names the environment variables of HTTP basic auth credentials.
type BasicAuthEnv struct {
	// UsernameEnv names the environment variable holding the username. Required.
	UsernameEnv string `json:"usernameEnv"`
	// PasswordEnv names the environment variable holding the password. Required.
	PasswordEnv string `json:"passwordEnv"`
}

// Queries are the PromQL expressions and label names the engine uses, so that Thanos or
// Mimir setups with other label names work. Every field has a default.
type Queries struct {
	// NamespaceLabel is the label of the usage and requests series that holds a
	// workload's namespace.
	NamespaceLabel string `json:"namespaceLabel,omitempty"`
	// WorkloadLabel is the label of the usage and requests series that holds a
	// workload's name, which is matched against the services' names.
	WorkloadLabel string `json:"workloadLabel,omitempty"`
	// CPUUsage returns the current cpu usage, in cores, of every workload of the fleet,
	// by clusterLabel, namespaceLabel and workloadLabel. Its sum per cluster, at its
	// minimum over policy.sustain, is the cluster's sustained cpu usage.
	CPUUsage string `json:"cpuUsage,omitempty"`
	// MemoryUsage is the counterpart of cpuUsage for memory, in bytes.
	MemoryUsage string `json:"memoryUsage,omitempty"`
	// CPURequests returns the cpu requests, in cores, of every workload, by the same
	// three labels.
	CPURequests string `json:"cpuRequests,omitempty"`
	// MemoryRequests returns the memory requests, in bytes, of every workload.
	MemoryRequests string `json:"memoryRequests,omitempty"`
	// CPUCapacity returns each cluster's allocatable cores, by clusterLabel; asked only
	// when a cluster has no capacity.cpu.
	CPUCapacity string `json:"cpuCapacity,omitempty"`
	// MemoryCapacity returns each cluster's allocatable bytes, by clusterLabel; asked
	// only when a cluster has no capacity.memory.
	MemoryCapacity string `json:"memoryCapacity,omitempty"`
	// ReplicasAvailable is a template of the number of available replicas of one
	// service's Deployment in one cluster. The gates use it, and replicasDesired, for
	// the clusters whose gitops.workloads entry says prometheus.
	ReplicasAvailable string `json:"replicasAvailable,omitempty"`
	// ReplicasDesired is a template of the number of replicas one service's Deployment
	// asks for in one cluster.
	ReplicasDesired string `json:"replicasDesired,omitempty"`
	// RequestRate is a template of the requests per second a service receives in a
	// cluster, for example from Traefik or a service mesh. When set, cleanup waits
	// until the source's rate stays at or below policy.idleRate for three evaluations.
	RequestRate string `json:"requestRate,omitempty"`
}

// Thresholds are utilisation fractions in (0,1].
type Thresholds struct {
	// CPU is a fraction of the cluster's cpu capacity, in (0,1].
	CPU float64 `json:"cpu"`
	// Memory is a fraction of the cluster's memory capacity, in (0,1].
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
	// Remote is the fleet repository gitmig clones and pushes to: an HTTPS URL, or a
	// local path (relative to the repository folder) or file:// URL, never with
	// credentials in it. Required by the commands that work through Git: reconcile,
	// status, migrate and pr.
	Remote string `json:"remote"`
	// Branch is the base branch the engines apply; gitmig's pull requests target it
	// and its records are committed to it.
	Branch string `json:"branch"`
	// Engine applies the merged overlays and is read by the gates: argocd, flux, or
	// none, with which a merged step counts as applied.
	Engine string `json:"engine"`
	// Forge holds the pull requests: github, or local, which keeps them in the git
	// remote itself (see gitmig pr).
	Forge string `json:"forge"`
	// GitHub locates the repository on GitHub; required with forge github.
	GitHub *GitHub `json:"github,omitempty"`
	// DNS says how a moved service's destination is found: externalname, through each
	// cluster's ingress dnsName, or externaldns, with which step 2 also writes a
	// DNSEndpoint of that name to the cluster's ingress address for external-dns.
	DNS string `json:"dns"`
	// ArgoCD says where each cluster's Application is; required with engine argocd.
	ArgoCD *ArgoCD `json:"argocd,omitempty"`
	// Flux says where each cluster's Kustomization is; required with engine flux.
	Flux *Flux `json:"flux,omitempty"`
	// Workloads lets the gates look at the clusters themselves, keyed by cluster name:
	// the Deployment available in the destination, routes in place, the Service
	// flipped, the pods gone from the source. A cluster without an entry is judged by
	// its engine alone.
	Workloads map[string]WorkloadAccess `json:"workloads,omitempty"`
	// TokenEnv names the environment variable with the token for an HTTPS remote that
	// is not GitHub; with forge github, github.tokenEnv is used.
	TokenEnv string `json:"tokenEnv,omitempty"`
	// Author signs gitmig's commits; gitmig <gitmig@localhost> when empty.
	Author *Author `json:"author,omitempty"`
	// AutoMerge lists the steps (deploy, route, flip, cleanup) gitmig merges itself once
	// the previous step's gate passes; cleanup only when listed.
	AutoMerge []string `json:"autoMerge,omitempty"`
}

// Author is the name and email on gitmig's commits.
type Author struct {
	// Name is the commits' author name, without <, > or line breaks. Required.
	Name string `json:"name"`
	// Email is the commits' author email address. Required.
	Email string `json:"email"`
}

// GitHub locates the repository on GitHub; the token is read from TokenEnv.
type GitHub struct {
	// Owner is the user or organisation that owns the repository. Required.
	Owner string `json:"owner"`
	// Repo is the repository's name. Required.
	Repo string `json:"repo"`
	// TokenEnv names the environment variable holding the token for the API and for
	// git over HTTPS: an App installation token or a personal access token with
	// contents, pull requests and statuses write.
	TokenEnv string `json:"tokenEnv"`
	// APIURL is the REST API root of a GitHub Enterprise Server,
	// https://HOST/api/v3/; GitHub's own when empty.
	APIURL string `json:"apiURL,omitempty"`
}

// KubeTarget is a kubeconfig and context; in-cluster config when Kubeconfig is empty.
type KubeTarget struct {
	// Kubeconfig is the path of a kubeconfig file; in-cluster configuration when
	// empty.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// Context is the kubeconfig context to use; the current one when empty.
	Context string `json:"context,omitempty"`
}

// WorkloadAccess says how the gates look at one cluster's workloads: through its API
// server, or, with Prometheus true, through kube-state-metrics.
type WorkloadAccess struct {
	KubeTarget `json:",inline"`
	// Prometheus reads the cluster through the policy.queries replicas templates
	// instead of its API server; exclusive with kubeconfig and context.
	Prometheus bool `json:"prometheus,omitempty"`
}

// ArgoCD says where the Applications of each cluster live.
type ArgoCD struct {
	KubeTarget `json:",inline"`
	// Namespace is where the Applications are.
	Namespace string `json:"namespace"`
	// Applications maps every cluster's name to the Application that applies its
	// overlay. Required, one entry per cluster.
	Applications map[string]string `json:"applications"`
}

// Flux says where the Kustomizations of each cluster live.
type Flux struct {
	KubeTarget `json:",inline"`
	// Namespace is where the Kustomizations are.
	Namespace string `json:"namespace"`
	// Kustomizations maps every cluster's name to the Kustomization that applies its
	// overlay. Required, one entry per cluster.
	Kustomizations map[string]string `json:"kustomizations"`
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration struct{ time.Duration }
