package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/url"
	"path"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/traffic"
)

// FieldError is one problem in gitmig.yaml, at a field path such as
// clusters[1].ingress.entryPoints.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// ValidationError lists every problem found in one document.
type ValidationError []FieldError

func (v ValidationError) Error() string {
	lines := make([]string, len(v))
	for i, e := range v {
		lines[i] = "  " + e.Error()
	}
	return fmt.Sprintf("%d problem(s):\n%s", len(v), strings.Join(lines, "\n"))
}

type validator struct{ errs ValidationError }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Validate checks the whole document and reports every problem at once. repo, when
// not nil, is the repository tree in which service base folders must exist.
func (c *Config) Validate(repo fs.FS) error {
	v := &validator{}
	if c.APIVersion != APIVersion {
		v.add("apiVersion", "must be %q, got %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		v.add("kind", "must be %q, got %q", Kind, c.Kind)
	}
	clusters := c.validateClusters(v)
	c.validateLatency(v, clusters)
	c.validateServices(v, repo)
	c.validatePolicy(v)
	c.validateGitOps(v, clusters)
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (c *Config) validateClusters(v *validator) map[string]bool {
	names := map[string]bool{}
	paths := map[string]string{}
	dnsNames := map[string]string{}
	if len(c.Clusters) == 0 {
		v.add("clusters", "at least one cluster is required")
	}
	for i, cl := range c.Clusters {
		f := fmt.Sprintf("clusters[%d]", i)
		checkName(v, f+".name", cl.Name)
		if names[cl.Name] {
			v.add(f+".name", "duplicate cluster %q", cl.Name)
		}
		names[cl.Name] = true
		if TierRank(cl.Tier) < 0 {
			v.add(f+".tier", "must be one of edge, fog, cloud, got %q", cl.Tier)
		}
		checkRelPath(v, f+".path", cl.Path)
		if other, ok := paths[cl.Path]; ok && cl.Path != "" {
			v.add(f+".path", "overlay %q is also the path of cluster %q", cl.Path, other)
		}
		paths[cl.Path] = cl.Name
		if cl.Capacity != nil {
			checkQuantity(v, f+".capacity.cpu", cl.Capacity.CPU)
			checkQuantity(v, f+".capacity.memory", cl.Capacity.Memory)
		}
		in := cl.Ingress
		switch {
		case in.DNSName == "":
			v.add(f+".ingress.dnsName", "required: the DNS name of the cluster's Traefik load balancer")
		case len(validation.IsDNS1123Subdomain(strings.TrimSuffix(in.DNSName, "."))) > 0:
			v.add(f+".ingress.dnsName", "%q is not a valid DNS name", in.DNSName)
		default:
			// DNS ignores a trailing dot, and so does ClusterByDNSName.
			if other, ok := dnsNames[trimDot(in.DNSName)]; ok {
				v.add(f+".ingress.dnsName", "%q is also the dnsName of cluster %q", in.DNSName, other)
			}
			dnsNames[trimDot(in.DNSName)] = cl.Name
		}
		if in.Address != "" && net.ParseIP(in.Address) == nil {
			v.add(f+".ingress.address", "%q is not an IP address", in.Address)
		}
		validateEntryPoints(v, f+".ingress.entryPoints", in.EntryPoints)
	}
	return names
}

func validateEntryPoints(v *validator, field string, entryPoints map[string]EntryPoint) {
	if len(entryPoints) == 0 {
		v.add(field, "at least one entry point is required, e.g. {web: 80}")
	}
	byPort := map[int32]string{}
	for _, name := range sortedKeys(entryPoints) {
		ep := entryPoints[name]
		if ep.Port < 1 || ep.Port > 65535 {
			v.add(field+"."+name, "port %d is out of range 1-65535", ep.Port)
		}
		// One port is one listener, whether it takes TCP or UDP.
		if other, ok := byPort[ep.Port]; ok {
			v.add(field+"."+name, "port %d is also entry point %q", ep.Port, other)
		}
		byPort[ep.Port] = name
		if !traffic.IsEntryPointProtocol(ep.Protocol) {
			v.add(field+"."+name+".protocol", "must be one of http, tls, tcp, udp, got %q", ep.Protocol)
		}
	}
}

func (c *Config) validateLatency(v *validator, clusters map[string]bool) {
	seen := map[[2]string]bool{}
	for i, l := range c.Latency {
		f := fmt.Sprintf("latency[%d]", i)
		if len(l.Between) != 2 {
			v.add(f+".between", "must name exactly two clusters, got %d", len(l.Between))
			continue
		}
		for j, name := range l.Between {
			if !clusters[name] {
				v.add(fmt.Sprintf("%s.between[%d]", f, j), "unknown cluster %q", name)
			}
		}
		if l.Between[0] == l.Between[1] {
			v.add(f+".between", "a cluster's latency to itself is zero; name two different clusters")
		}
		pair := [2]string{l.Between[0], l.Between[1]}
		if pair[0] > pair[1] {
			pair[0], pair[1] = pair[1], pair[0]
		}
		if seen[pair] {
			v.add(f+".between", "latency between %s and %s is given twice", pair[0], pair[1])
		}
		seen[pair] = true
		if l.MS < 0 {
			v.add(f+".ms", "must not be negative, got %v", l.MS)
		}
	}
}

func (c *Config) validateServices(v *validator, repo fs.FS) {
	names := map[string]bool{}
	for _, s := range c.Services {
		names[s.Name] = true
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		f := fmt.Sprintf("services[%d]", i)
		checkName(v, f+".name", s.Name)
		if seen[s.Name] {
			v.add(f+".name", "duplicate service %q", s.Name)
		}
		seen[s.Name] = true
		switch errs := validation.IsDNS1123Label(s.Namespace); {
		case s.Namespace == "":
			v.add(f+".namespace", "required")
		case yamlBoolean(v, f+".namespace", s.Namespace):
		case len(errs) > 0:
			v.add(f+".namespace", "%q is not a valid namespace: %s", s.Namespace, errs[0])
		}
		switch {
		case s.Base == "":
			v.add(f+".base", "required: the kustomize base folder of the service, e.g. base/%s", s.Name)
		case checkRelPath(v, f+".base", s.Base) && repo != nil:
			if !hasKustomization(repo, s.Base) {
				v.add(f+".base", "folder %q does not exist or holds no kustomization.yaml", s.Base)
			}
		}
		for j, client := range s.Clients {
			switch {
			case client == s.Name:
				v.add(fmt.Sprintf("%s.clients[%d]", f, j), "a service cannot be its own client")
			case !names[client]:
				v.add(fmt.Sprintf("%s.clients[%d]", f, j), "unknown service %q", client)
			}
		}
		if s.MaxLatencyMS != nil && *s.MaxLatencyMS < 0 {
			v.add(f+".maxLatencyMs", "must not be negative, got %v", *s.MaxLatencyMS)
		}
		for j, tier := range s.Tiers {
			if TierRank(tier) < 0 {
				v.add(fmt.Sprintf("%s.tiers[%d]", f, j), "must be one of edge, fog, cloud, got %q", tier)
			}
		}
		validateHosts(v, f+".hosts", s.Hosts)
		validatePortProtocols(v, f+".ports", s.Ports)
	}
}

func validateHosts(v *validator, field string, hosts []string) {
	seen := map[string]bool{}
	for j, h := range hosts {
		f := fmt.Sprintf("%s[%d]", field, j)
		if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
			v.add(f, "%q is not a DNS name a route can match: %s", h, errs[0])
		}
		if seen[h] {
			v.add(f, "%q is listed twice", h)
		}
		seen[h] = true
	}
}

// validatePortProtocols checks the overrides of what ports speak. Whether each names a
// port of the service's Service is known only once its base is built, so verify
// checks that.
func validatePortProtocols(v *validator, field string, ports []PortProtocol) {
	names, numbers := map[string]bool{}, map[int32]bool{}
	for j, p := range ports {
		f := fmt.Sprintf("%s[%d]", field, j)
		switch {
		case (p.Name == "") == (p.Port == 0):
			v.add(f, "name the port by its name or by its number, one of the two")
		case p.Port < 0 || p.Port > 65535:
			v.add(f+".port", "port %d is out of range 1-65535", p.Port)
		case names[p.Name] || numbers[p.Port]:
			v.add(f, "port %s is given twice", cmp.Or(p.Name, fmt.Sprint(p.Port)))
		}
		if p.Name != "" {
			names[p.Name] = true
		}
		if p.Port != 0 {
			numbers[p.Port] = true
		}
		if !traffic.Known(p.AppProtocol) {
			v.add(f+".appProtocol", "must be one of http, kubernetes.io/h2c, grpc, https, tls, kubernetes.io/wss, grpcs, tcp, got %q", p.AppProtocol)
		}
	}
}

func hasKustomization(repo fs.FS, dir string) bool {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		if _, err := fs.Stat(repo, path.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

func (c *Config) validatePolicy(v *validator) {
	p := c.Policy
	if u, err := url.Parse(p.Prometheus.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("policy.prometheus.url", "%q is not an http(s) URL", p.Prometheus.URL)
	} else if u.User != nil {
		v.add("policy.prometheus.url", "must not carry credentials; name an environment variable in bearerTokenEnv or basicAuth")
	}
	if p.Prometheus.Timeout.Duration <= 0 {
		v.add("policy.prometheus.timeout", "must be positive")
	}
	if p.Prometheus.BearerTokenEnv != "" && p.Prometheus.BasicAuth != nil {
		v.add("policy.prometheus", "bearerTokenEnv and basicAuth are mutually exclusive")
	}
	if b := p.Prometheus.BasicAuth; b != nil && (b.UsernameEnv == "" || b.PasswordEnv == "") {
		v.add("policy.prometheus.basicAuth", "usernameEnv and passwordEnv are both required")
	}
	for _, t := range []struct {
		field string
		value float64
	}{
		{"policy.overload.cpu", p.Overload.CPU}, {"policy.overload.memory", p.Overload.Memory},
		{"policy.target.cpu", p.Target.CPU}, {"policy.target.memory", p.Target.Memory},
	} {
		if t.value <= 0 || t.value > 1 {
			v.add(t.field, "must be in (0,1], got %v", t.value)
		}
	}
	if p.Target.CPU > p.Overload.CPU {
		v.add("policy.target.cpu", "%v is above policy.overload.cpu %v: a move could itself overload its destination", p.Target.CPU, p.Overload.CPU)
	}
	if p.Target.Memory > p.Overload.Memory {
		v.add("policy.target.memory", "%v is above policy.overload.memory %v: a move could itself overload its destination", p.Target.Memory, p.Overload.Memory)
	}
	for _, d := range []struct {
		field string
		value Duration
	}{
		{"policy.sustain", p.Sustain}, {"policy.cooldown", p.Cooldown},
		{"policy.routeSettle", p.RouteSettle}, {"policy.drain", p.Drain}, {"policy.stepTimeout", p.StepTimeout},
	} {
		if d.value.Duration < 0 {
			v.add(d.field, "must not be negative, got %s", d.value.Duration)
		}
	}
	for _, q := range []struct{ field, text string }{
		{"policy.queries.replicasAvailable", p.Queries.ReplicasAvailable},
		{"policy.queries.replicasDesired", p.Queries.ReplicasDesired},
		{"policy.queries.requestRate", p.Queries.RequestRate},
	} {
		if _, err := ParseQueryTemplate(q.text); err != nil {
			v.add(q.field, "%v", err)
		}
	}
	if p.IdleRate < 0 {
		v.add("policy.idleRate", "must not be negative, got %v", p.IdleRate)
	}
	if p.StepTimeout.Duration <= p.Drain.Duration {
		v.add("policy.stepTimeout", "%s must be longer than policy.drain %s, or every flip would time out and roll back", p.StepTimeout.Duration, p.Drain.Duration)
	}
	if p.StepTimeout.Duration <= p.RouteSettle.Duration {
		v.add("policy.stepTimeout", "%s must be longer than policy.routeSettle %s, or every route step would time out and roll back", p.StepTimeout.Duration, p.RouteSettle.Duration)
	}
	if p.MaxConcurrent < 1 {
		v.add("policy.maxConcurrent", "must be at least 1, got %d", p.MaxConcurrent)
	}
	if p.Stickiness < 0 || p.Stickiness > 100 {
		v.add("policy.stickiness", "must be within 0-100 (a score margin), got %v", p.Stickiness)
	}
}

func (c *Config) validateGitOps(v *validator, clusters map[string]bool) {
	g := c.GitOps
	if hasCredentials(g.Remote) {
		v.add("gitops.remote", "must not carry credentials; name the environment variable that holds the token in gitops.tokenEnv (or gitops.github.tokenEnv)")
	}
	if err := checkBranch(g.Branch); err != nil {
		v.add("gitops.branch", "%q is not a branch name: %v", g.Branch, err)
	}
	if g.Engine == "" && g.Forge == ForgeGitHub {
		v.add("gitops.engine", "required with forge github: argocd or flux, whichever applies the merged steps, so that gitmig waits for it (none counts a merge as applied and checks nothing)")
	} else if !slices.Contains([]string{EngineArgoCD, EngineFlux, EngineNone}, g.Engine) {
		v.add("gitops.engine", "must be one of argocd, flux, none, got %q", g.Engine)
	}
	if !slices.Contains([]string{ForgeGitHub, ForgeLocal}, g.Forge) {
		v.add("gitops.forge", "must be one of github, local, got %q", g.Forge)
	}
	if !slices.Contains([]string{DNSExternalName, DNSExternalDNS}, g.DNS) {
		v.add("gitops.dns", "must be one of externalname, externaldns, got %q", g.DNS)
	}
	if g.DNS == DNSExternalDNS {
		for i, cl := range c.Clusters {
			if cl.Ingress.Address == "" {
				v.add(fmt.Sprintf("clusters[%d].ingress.address", i), "required with gitops.dns externaldns: DNSEndpoint records point at it")
			}
		}
	}
	if g.Forge == ForgeGitHub {
		if g.GitHub == nil || g.GitHub.Owner == "" || g.GitHub.Repo == "" {
			v.add("gitops.github", "owner and repo are required with forge github")
		}
	}
	if g.GitHub != nil && g.GitHub.APIURL != "" {
		if u, err := url.Parse(g.GitHub.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			v.add("gitops.github.apiURL", "must be an http(s) URL without credentials, such as https://github.example.com/api/v3/")
		}
	}
	if g.Engine == EngineArgoCD {
		if g.ArgoCD == nil {
			v.add("gitops.argocd", "required with engine argocd")
		} else {
			checkClusterMap(v, "gitops.argocd.applications", g.ArgoCD.Applications, clusters, c.Clusters)
		}
	}
	if g.Engine == EngineFlux {
		if g.Flux == nil {
			v.add("gitops.flux", "required with engine flux")
		} else {
			checkClusterMap(v, "gitops.flux.kustomizations", g.Flux.Kustomizations, clusters, c.Clusters)
		}
	}
	for _, name := range sortedKeys(g.Workloads) {
		if !clusters[name] {
			v.add("gitops.workloads."+name, "unknown cluster %q", name)
		}
		if w := g.Workloads[name]; w.Prometheus && (w.Kubeconfig != "" || w.Context != "") {
			v.add("gitops.workloads."+name, "either a kubeconfig and context or prometheus: true, not both")
		}
	}
	for i, name := range g.AutoMerge {
		if _, ok := step.ByName(name); !ok {
			v.add(fmt.Sprintf("gitops.autoMerge[%d]", i), "must be a step name (deploy, route, flip, cleanup), got %q", name)
		}
	}
	if g.Author != nil && (g.Author.Name == "" || !strings.Contains(g.Author.Email, "@") || strings.ContainsAny(g.Author.Name+g.Author.Email, "<>\n")) {
		v.add("gitops.author", "needs a name and an email address, without <, > or line breaks")
	}
}

// hasCredentials reports a remote that carries a password or token: the userinfo of a
// URL with a password, or of git's scp-like user:password@host:path.
func hasCredentials(remote string) bool {
	if u, err := url.Parse(remote); err == nil && u.Scheme != "" && u.User != nil {
		_, hasPassword := u.User.Password()
		return hasPassword || u.Scheme == "https" || u.Scheme == "http"
	}
	at := strings.LastIndex(remote, "@")
	return at > 0 && !strings.Contains(remote, "://") && strings.Contains(remote[:at], ":")
}

// checkBranch applies git's rules for a branch name (git check-ref-format --branch),
// so that a name such as main:refs/heads/other cannot reach a push's refspec.
func checkBranch(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case strings.HasPrefix(name, "-"), strings.HasPrefix(name, "/"), strings.HasSuffix(name, "/"):
		return errors.New("must not start with - or /, nor end with /")
	case strings.HasSuffix(name, "."), strings.HasSuffix(name, ".lock"):
		return errors.New("must not end with . or .lock")
	case strings.Contains(name, ".."), strings.Contains(name, "//"), strings.Contains(name, "@{"), name == "@":
		return errors.New("must not contain .., //, @{ or be @")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Errorf("must not contain %q", r)
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return errors.New("no part may start with .")
		}
	}
	return nil
}

// checkClusterMap requires a map keyed by cluster name to name every cluster, and only those.
func checkClusterMap(v *validator, field string, m map[string]string, known map[string]bool, all []Cluster) {
	for _, name := range sortedKeys(m) {
		if !known[name] {
			v.add(field+"."+name, "unknown cluster %q", name)
		}
	}
	for _, cl := range all {
		if _, ok := m[cl.Name]; !ok && cl.Name != "" {
			v.add(field, "no entry for cluster %q", cl.Name)
		}
	}
}

func checkName(v *validator, field, name string) {
	if name == "" {
		v.add(field, "required")
		return
	}
	if yamlBoolean(v, field, name) {
		return
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		v.add(field, "%q is not a valid name: %s", name, errs[0])
	}
}

// checkRelPath requires a slash-separated path inside the repository.
func checkRelPath(v *validator, field, p string) bool {
	if p == "" {
		return false
	}
	if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		v.add(field, "%q must be a path inside the repository", p)
		return false
	}
	return true
}

func checkQuantity(v *validator, field, q string) {
	if q == "" {
		return
	}
	qty, err := resource.ParseQuantity(q)
	if err != nil {
		v.add(field, "%q is not a Kubernetes quantity such as 8, 500m or 16Gi", q)
		return
	}
	if qty.Sign() <= 0 {
		v.add(field, "must be positive, got %s", q)
		return
	}
	// Sums of capacities and usages must stay finite; no cluster has a quintillion of
	// anything.
	if f := qty.AsApproximateFloat64(); math.IsInf(f, 0) || f > maxQuantity {
		v.add(field, "%s is beyond any cluster (at most %g)", q, float64(maxQuantity))
	}
}

// maxQuantity bounds a configured capacity: an exabyte of memory, or as many cores.
const maxQuantity = 1 << 60

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// yamlBoolean reports a name that YAML 1.1 turned into a boolean: an unquoted y, n, yes,
// no, on or off (Norway's country code, say) arrives as "true" or "false".
func yamlBoolean(v *validator, field, name string) bool {
	if name != "true" && name != "false" {
		return false
	}
	v.add(field, "%q: YAML reads an unquoted y, n, yes, no, on or off as a boolean; quote the name", name)
	return true
}
