package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gitmig/gitmig/internal/traffic"
)

// minimal is the smallest valid gitmig.yaml with two clusters, a latency entry and two
// services, one calling the other. Invalid documents are this one with one edit.
const minimal = `apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - name: edge
    tier: edge
    ingress:
      dnsName: edge.example.internal
      entryPoints: {web: 80}
  - name: cloud
    tier: cloud
    ingress:
      dnsName: cloud.example.internal
      entryPoints: {web: 80, websecure: 443}
latency:
  - {between: [edge, cloud], ms: 20}
services:
  - name: api
    namespace: api-ns
    base: base/api
  - name: web
    namespace: web-ns
    base: base/web
    clients: [api]
`

// repoFS holds the bases minimal names.
func repoFS() fstest.MapFS {
	return fstest.MapFS{
		"base/api/kustomization.yaml": {Data: []byte("resources: [deployment.yaml]\n")},
		"base/web/kustomization.yml":  {Data: []byte("resources: [deployment.yaml]\n")},
		"base/empty/deployment.yaml":  {Data: []byte("kind: Deployment\n")},
	}
}

// edit returns minimal with old replaced by new, and fails when old is not in it, so a
// case can never test the unedited document by mistake.
func edit(t *testing.T, doc string, pairs ...string) string {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatalf("edit: odd number of arguments")
	}
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("edit: %q is not in the document", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

// problems parses and validates doc and returns the field errors, or fails the test when
// the error is not a ValidationError.
func problems(t *testing.T, doc string) ValidationError {
	t.Helper()
	cfg, err := Parse([]byte(doc))
	if err == nil {
		err = cfg.Validate(repoFS())
	}
	if err == nil {
		return nil
	}
	var v ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("error is %T, not a ValidationError: %v", err, err)
	}
	return v
}

func TestMinimalIsValid(t *testing.T) {
	if p := problems(t, minimal); p != nil {
		t.Fatalf("minimal document: %v", p)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		// pairs edit minimal: old, new, old, new...
		pairs []string
		want  ValidationError
	}{
		{
			name:  "wrong apiVersion",
			pairs: []string{"gitmig.dev/v1alpha1", "gitmig.dev/v1"},
			want:  ValidationError{{"apiVersion", `must be "gitmig.dev/v1alpha1", got "gitmig.dev/v1"`}},
		},
		{
			name:  "wrong kind",
			pairs: []string{"kind: Config", "kind: Kustomization"},
			want:  ValidationError{{"kind", `must be "Config", got "Kustomization"`}},
		},
		{
			name:  "unknown top-level field",
			pairs: []string{"kind: Config\n", "kind: Config\nowner: platform-team\n"},
			want:  ValidationError{{"owner", "unknown field"}},
		},
		{
			name:  "empty key",
			pairs: []string{"kind: Config\n", "kind: Config\n'': 1\n"},
			want:  ValidationError{{`""`, "unknown field"}},
		},
		{
			name: "unknown fields everywhere are reported together with their paths",
			pairs: []string{
				"      entryPoints: {web: 80, websecure: 443}", "      entrypoints: {web: 80, websecure: 443}",
				"    clients: [api]", "    clients: [api]\n    replicas: 3",
			},
			want: ValidationError{
				{"clusters[1].ingress.entrypoints", "unknown field"},
				{"services[1].replicas", "unknown field"},
			},
		},
		{
			name:  "bad duration",
			pairs: []string{"services:", "policy: {sustain: 10 minutes}\nservices:"},
			want:  ValidationError{{"policy.sustain", `invalid duration "10 minutes": want a number with a unit such as 30s, 10m or 1h`}},
		},
		{
			name:  "duration without unit",
			pairs: []string{"services:", "policy: {prometheus: {timeout: 30}}\nservices:"},
			want:  ValidationError{{"policy.prometheus.timeout", "invalid duration 30: want a number with a unit such as 30s, 10m or 1h"}},
		},
		{
			name:  "negative duration",
			pairs: []string{"services:", "policy: {drain: -5m}\nservices:"},
			want:  ValidationError{{"policy.drain", "must not be negative, got -5m0s"}},
		},
		{
			name:  "entry point port is not a number",
			pairs: []string{"{web: 80, websecure: 443}", "{web: eighty}"},
			want:  ValidationError{{"clusters.ingress.entryPoints", `want a port such as 80, or {port: 5432, protocol: tcp}, got string "eighty"`}},
		},
		{
			name:  "entry point mapping with an unknown field",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 80, db: {port: 5432, proto: tcp}}"},
			want:  ValidationError{{"clusters.ingress.entryPoints", `want a port such as 80, or {port: 5432, protocol: tcp}, got unknown field "proto"`}},
		},
		{
			name:  "entry point mapping whose port is not a number",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 80, db: {port: '5432', protocol: tcp}}"},
			want:  ValidationError{{"clusters.ingress.entryPoints", `want a port such as 80, or {port: 5432, protocol: tcp}, got port "5432"`}},
		},
		{
			name:  "latency is a mapping",
			pairs: []string{"  - {between: [edge, cloud], ms: 20}", "  {between: [edge, cloud], ms: 20}"},
			want:  ValidationError{{"latency", "want a list, got object"}},
		},
		{
			name:  "duplicate cluster",
			pairs: []string{"  - name: cloud", "  - name: edge"},
			want: ValidationError{
				{"clusters[1].name", `duplicate cluster "edge"`},
				{"clusters[1].path", `overlay "clusters/edge" is also the path of cluster "edge"`},
				{"latency[0].between[1]", `unknown cluster "cloud"`},
			},
		},
		{
			name:  "invalid cluster name",
			pairs: []string{"  - name: cloud", "  - name: Cloud_1", "[edge, cloud]", "[edge, Cloud_1]"},
			want:  ValidationError{{"clusters[1].name", `"Cloud_1" is not a valid name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`}},
		},
		{
			name:  "invalid tier",
			pairs: []string{"tier: cloud", "tier: core"},
			want:  ValidationError{{"clusters[1].tier", `must be one of edge, fog, cloud, got "core"`}},
		},
		{
			name:  "overlay path outside the repository",
			pairs: []string{"    tier: cloud\n", "    tier: cloud\n    path: ../fleet/clusters/cloud\n"},
			want:  ValidationError{{"clusters[1].path", `"../fleet/clusters/cloud" must be a path inside the repository`}},
		},
		{
			name:  "two clusters on one overlay",
			pairs: []string{"    tier: cloud\n", "    tier: cloud\n    path: clusters/edge/\n"},
			want:  ValidationError{{"clusters[1].path", `overlay "clusters/edge" is also the path of cluster "edge"`}},
		},
		{
			name:  "bad capacity quantities",
			pairs: []string{"    tier: cloud\n", "    tier: cloud\n    capacity: {cpu: lots, memory: -1Gi}\n"},
			want: ValidationError{
				{"clusters[1].capacity.cpu", `"lots" is not a Kubernetes quantity such as 8, 500m or 16Gi`},
				{"clusters[1].capacity.memory", "must be positive, got -1Gi"},
			},
		},
		{
			name:  "bad dnsName",
			pairs: []string{"cloud.example.internal", "cloud_lb.example.internal"},
			want:  ValidationError{{"clusters[1].ingress.dnsName", `"cloud_lb.example.internal" is not a valid DNS name`}},
		},
		{
			name:  "missing dnsName",
			pairs: []string{"      dnsName: cloud.example.internal\n", ""},
			want:  ValidationError{{"clusters[1].ingress.dnsName", "required: the DNS name of the cluster's Traefik load balancer"}},
		},
		{
			name:  "duplicate dnsName",
			pairs: []string{"cloud.example.internal", "edge.example.internal"},
			want:  ValidationError{{"clusters[1].ingress.dnsName", `"edge.example.internal" is also the dnsName of cluster "edge"`}},
		},
		{
			name:  "duplicate dnsName up to the trailing dot",
			pairs: []string{"cloud.example.internal", "edge.example.internal."},
			want:  ValidationError{{"clusters[1].ingress.dnsName", `"edge.example.internal." is also the dnsName of cluster "edge"`}},
		},
		{
			name:  "address is not an IP",
			pairs: []string{"      dnsName: cloud.example.internal\n", "      dnsName: cloud.example.internal\n      address: lb.cloud\n"},
			want:  ValidationError{{"clusters[1].ingress.address", `"lb.cloud" is not an IP address`}},
		},
		{
			name:  "no entry points",
			pairs: []string{"{web: 80, websecure: 443}", "{}"},
			want:  ValidationError{{"clusters[1].ingress.entryPoints", "at least one entry point is required, e.g. {web: 80}"}},
		},
		{
			name:  "duplicate entry point port",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 80, http: 80}"},
			want:  ValidationError{{"clusters[1].ingress.entryPoints.web", `port 80 is also entry point "http"`}},
		},
		{
			name:  "entry point port out of range",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 0, websecure: 70000}"},
			want: ValidationError{
				{"clusters[1].ingress.entryPoints.web", "port 0 is out of range 1-65535"},
				{"clusters[1].ingress.entryPoints.websecure", "port 70000 is out of range 1-65535"},
			},
		},
		{
			name:  "entry point of an unknown protocol",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 80, websecure: {port: 443, protocol: https}}"},
			want:  ValidationError{{"clusters[1].ingress.entryPoints.websecure.protocol", `must be one of http, tls, tcp, udp, got "https"`}},
		},
		{
			name:  "a TCP and a UDP entry point on one port",
			pairs: []string{"{web: 80, websecure: 443}", "{web: 80, dns: {port: 53, protocol: udp}, dnstcp: {port: 53, protocol: tcp}}"},
			want:  ValidationError{{"clusters[1].ingress.entryPoints.dnstcp", `port 53 is also entry point "dns"`}},
		},
		{
			name:  "hosts that are no DNS names, or twice the same",
			pairs: []string{"    base: base/api\n", "    base: base/api\n    hosts: [api.example.net, API.example.net, '*.example.net', api.example.net]\n"},
			want: ValidationError{
				{"services[0].hosts[1]", `"API.example.net" is not a DNS name a route can match: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
				{"services[0].hosts[2]", `"*.example.net" is not a DNS name a route can match: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
				{"services[0].hosts[3]", `"api.example.net" is listed twice`},
			},
		},
		{
			name: "port overrides that name no port, both, one twice, or an unknown protocol",
			pairs: []string{"    base: base/api\n", `    base: base/api
    ports:
      - {appProtocol: tls}
      - {name: grpc, port: 9000, appProtocol: grpc}
      - {name: api, appProtocol: https}
      - {name: api, appProtocol: http}
      - {port: 70000, appProtocol: tcp}
      - {port: 8080, appProtocol: htpp}
`},
			want: ValidationError{
				{"services[0].ports[0]", "name the port by its name or by its number, one of the two"},
				{"services[0].ports[1]", "name the port by its name or by its number, one of the two"},
				{"services[0].ports[3]", "port api is given twice"},
				{"services[0].ports[4].port", "port 70000 is out of range 1-65535"},
				{"services[0].ports[5].appProtocol", `must be one of http, kubernetes.io/h2c, grpc, https, tls, kubernetes.io/wss, grpcs, tcp, got "htpp"`},
			},
		},
		{
			name:  "unknown cluster in latency",
			pairs: []string{"[edge, cloud]", "[edge, fog]"},
			want:  ValidationError{{"latency[0].between[1]", `unknown cluster "fog"`}},
		},
		{
			name:  "latency to self",
			pairs: []string{"[edge, cloud]", "[edge, edge]"},
			want:  ValidationError{{"latency[0].between", "a cluster's latency to itself is zero; name two different clusters"}},
		},
		{
			name:  "duplicate latency pair, either way round",
			pairs: []string{"ms: 20}\n", "ms: 20}\n  - {between: [cloud, edge], ms: 25}\n"},
			want:  ValidationError{{"latency[1].between", "latency between cloud and edge is given twice"}},
		},
		{
			name:  "latency between three clusters",
			pairs: []string{"[edge, cloud]", "[edge, cloud, edge]"},
			want:  ValidationError{{"latency[0].between", "must name exactly two clusters, got 3"}},
		},
		{
			name:  "negative latency",
			pairs: []string{"ms: 20", "ms: -1"},
			want:  ValidationError{{"latency[0].ms", "must not be negative, got -1"}},
		},
		{
			name:  "duplicate service",
			pairs: []string{"  - name: web", "  - name: api"},
			want: ValidationError{
				{"services[1].name", `duplicate service "api"`},
				{"services[1].clients[0]", "a service cannot be its own client"},
			},
		},
		{
			name:  "missing namespace",
			pairs: []string{"    namespace: web-ns\n", ""},
			want:  ValidationError{{"services[1].namespace", "required"}},
		},
		{
			name:  "base folder absent",
			pairs: []string{"base: base/web", "base: base/www"},
			want:  ValidationError{{"services[1].base", `folder "base/www" does not exist or holds no kustomization.yaml`}},
		},
		{
			name:  "base folder without kustomization",
			pairs: []string{"base: base/web", "base: base/empty/"},
			want:  ValidationError{{"services[1].base", `folder "base/empty" does not exist or holds no kustomization.yaml`}},
		},
		{
			name:  "base folder missing from the document",
			pairs: []string{"    base: base/web\n", ""},
			want:  ValidationError{{"services[1].base", "required: the kustomize base folder of the service, e.g. base/web"}},
		},
		{
			name:  "base folder outside the repository",
			pairs: []string{"base: base/web", "base: base/../../web"},
			want:  ValidationError{{"services[1].base", `"../web" must be a path inside the repository`}},
		},
		{
			name:  "unknown client",
			pairs: []string{"clients: [api]", "clients: [api, nms]"},
			want:  ValidationError{{"services[1].clients[1]", `unknown service "nms"`}},
		},
		{
			name:  "invalid service tier and latency bound",
			pairs: []string{"    clients: [api]\n", "    clients: [api]\n    tiers: [edge, core]\n    maxLatencyMs: -5\n"},
			want: ValidationError{
				{"services[1].maxLatencyMs", "must not be negative, got -5"},
				{"services[1].tiers[1]", `must be one of edge, fog, cloud, got "core"`},
			},
		},
		{
			name:  "threshold above 1",
			pairs: []string{"services:", "policy: {overload: {cpu: 1.5}}\nservices:"},
			want:  ValidationError{{"policy.overload.cpu", "must be in (0,1], got 1.5"}},
		},
		{
			name:  "negative threshold",
			pairs: []string{"services:", "policy: {target: {memory: -0.1}}\nservices:"},
			want:  ValidationError{{"policy.target.memory", "must be in (0,1], got -0.1"}},
		},
		{
			name:  "target above overload",
			pairs: []string{"services:", "policy: {overload: {cpu: 0.6}, target: {memory: 0.9}}\nservices:"},
			want: ValidationError{
				{"policy.target.cpu", "0.7 is above policy.overload.cpu 0.6: a move could itself overload its destination"},
				{"policy.target.memory", "0.9 is above policy.overload.memory 0.85: a move could itself overload its destination"},
			},
		},
		{
			name:  "maxConcurrent and stickiness out of range",
			pairs: []string{"services:", "policy: {maxConcurrent: -1, stickiness: 101}\nservices:"},
			want: ValidationError{
				{"policy.maxConcurrent", "must be at least 1, got -1"},
				{"policy.stickiness", "must be within 0-100 (a score margin), got 101"},
			},
		},
		{
			name:  "prometheus URL with credentials",
			pairs: []string{"services:", "policy: {prometheus: {url: 'https://admin:secret@prometheus.example.internal'}}\nservices:"},
			want:  ValidationError{{"policy.prometheus.url", "must not carry credentials; name an environment variable in bearerTokenEnv or basicAuth"}},
		},
		{
			name:  "prometheus URL without scheme",
			pairs: []string{"services:", "policy: {prometheus: {url: 'prometheus:9090'}}\nservices:"},
			want:  ValidationError{{"policy.prometheus.url", `"prometheus:9090" is not an http(s) URL`}},
		},
		{
			name: "bearerTokenEnv and basicAuth both set",
			pairs: []string{"services:", "policy:\n  prometheus:\n    bearerTokenEnv: PROM_TOKEN\n" +
				"    basicAuth: {usernameEnv: PROM_USER, passwordEnv: PROM_PASSWORD}\nservices:"},
			want: ValidationError{{"policy.prometheus", "bearerTokenEnv and basicAuth are mutually exclusive"}},
		},
		{
			name:  "basicAuth without password",
			pairs: []string{"services:", "policy: {prometheus: {basicAuth: {usernameEnv: PROM_USER}}}\nservices:"},
			want:  ValidationError{{"policy.prometheus.basicAuth", "usernameEnv and passwordEnv are both required"}},
		},
		{
			name:  "unknown engine, forge and dns",
			pairs: []string{"services:", "gitops: {engine: jenkins, forge: gitlab, dns: coredns}\nservices:"},
			want: ValidationError{
				{"gitops.engine", `must be one of argocd, flux, none, got "jenkins"`},
				{"gitops.forge", `must be one of github, local, got "gitlab"`},
				{"gitops.dns", `must be one of externalname, externaldns, got "coredns"`},
			},
		},
		{
			name:  "engine argocd without applications for every cluster",
			pairs: []string{"services:", "gitops: {engine: argocd, argocd: {applications: {edge: edge-apps, fog: fog-apps}}}\nservices:"},
			want: ValidationError{
				{"gitops.argocd.applications.fog", `unknown cluster "fog"`},
				{"gitops.argocd.applications", `no entry for cluster "cloud"`},
			},
		},
		{
			name:  "engine argocd without its section",
			pairs: []string{"services:", "gitops: {engine: argocd}\nservices:"},
			want:  ValidationError{{"gitops.argocd", "required with engine argocd"}},
		},
		{
			name:  "engine flux without kustomizations for every cluster",
			pairs: []string{"services:", "gitops: {engine: flux, flux: {kustomizations: {cloud: cloud}}}\nservices:"},
			want:  ValidationError{{"gitops.flux.kustomizations", `no entry for cluster "edge"`}},
		},
		{
			name:  "forge github without owner and repo",
			pairs: []string{"services:", "gitops: {forge: github, engine: none, github: {owner: example}}\nservices:"},
			want:  ValidationError{{"gitops.github", "owner and repo are required with forge github"}},
		},
		{
			name:  "forge github without its section",
			pairs: []string{"services:", "gitops: {forge: github, engine: none}\nservices:"},
			want:  ValidationError{{"gitops.github", "owner and repo are required with forge github"}},
		},
		{
			// none would be a merge counted as applied on a real fleet: it must be said.
			name:  "forge github without an engine",
			pairs: []string{"services:", "gitops: {forge: github, github: {owner: example, repo: fleet}}\nservices:"},
			want:  ValidationError{{"gitops.engine", "required with forge github: argocd or flux, whichever applies the merged steps, so that gitmig waits for it (none counts a merge as applied and checks nothing)"}},
		},
		{
			name:  "externaldns without load balancer addresses",
			pairs: []string{"services:", "gitops: {dns: externaldns}\nservices:", "      dnsName: edge.example.internal\n", "      dnsName: edge.example.internal\n      address: 10.0.0.10\n"},
			want:  ValidationError{{"clusters[1].ingress.address", "required with gitops.dns externaldns: DNSEndpoint records point at it"}},
		},
		{
			name:  "workloads of an unknown cluster",
			pairs: []string{"services:", "gitops: {workloads: {moon: {context: moon}}}\nservices:"},
			want:  ValidationError{{"gitops.workloads.moon", `unknown cluster "moon"`}},
		},
		{
			name: "no clusters",
			pairs: []string{"clusters:\n", "clusters: []\nold:\n",
				"latency:\n  - {between: [edge, cloud], ms: 20}\n", ""},
			// The old clusters hang under an unknown field now.
			want: ValidationError{{"old", "unknown field"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, edit(t, minimal, tt.pairs...))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", list(got), list(tt.want))
			}
		})
	}
}

func list(v ValidationError) string {
	if len(v) == 0 {
		return "  (none)"
	}
	var b strings.Builder
	for _, e := range v {
		b.WriteString("  " + e.Field + ": " + e.Message + "\n")
	}
	return b.String()
}

// TestNotYAML covers documents that do not decode at all: they have no field path, so
// the message must say where the syntax broke.
func TestNotYAML(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"empty", " \n\t\n", "empty document"},
		{"malformed", "apiVersion: gitmig.dev/v1alpha1\nclusters: [\n  - name: edge\n", "decoding: yaml: line 2: did not find expected node content"},
		{"bad indentation", "kind: Config\n  clusters: []\n", "decoding: yaml: line 2: mapping values are not allowed in this context"},
		{"duplicate key", "kind: Config\nkind: Config\n", `decoding: yaml: unmarshal errors:` + "\n" + `  line 2: key "kind" already set in map`},
		{"a list", "- name: edge\n", "decoding: cannot unmarshal array into Go value of type config.Config"},
		{"a scalar", "gitmig", "decoding: cannot unmarshal string into Go value of type config.Config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q\ndoes not start with %q", err, tt.want)
			}
		})
	}
}

// TestAllProblemsAtOnce checks that one document with problems in every section gets
// every one of them back, in document order, in one error.
func TestAllProblemsAtOnce(t *testing.T) {
	doc := `apiVersion: gitmig.dev/v2
kind: Config
clusters:
  - name: edge
    tier: edge
    ingress:
      dnsName: edge.example.internal
      entryPoints: {web: 80, http: 80}
  - name: edge
    tier: core
    ingress:
      dnsName: edge.example.internal
      entryPoints: {web: 80}
latency:
  - {between: [edge, fog], ms: 5}
services:
  - name: api
    namespace: api-ns
    base: base/gone
    clients: [nms]
policy:
  prometheus: {url: 'http://u:p@prom:9090'}
  overload: {cpu: 1.2}
gitops:
  engine: argocd
  forge: github
`
	want := ValidationError{
		{"apiVersion", `must be "gitmig.dev/v1alpha1", got "gitmig.dev/v2"`},
		{"clusters[0].ingress.entryPoints.web", `port 80 is also entry point "http"`},
		{"clusters[1].name", `duplicate cluster "edge"`},
		{"clusters[1].tier", `must be one of edge, fog, cloud, got "core"`},
		{"clusters[1].path", `overlay "clusters/edge" is also the path of cluster "edge"`},
		{"clusters[1].ingress.dnsName", `"edge.example.internal" is also the dnsName of cluster "edge"`},
		{"latency[0].between[1]", `unknown cluster "fog"`},
		{"services[0].base", `folder "base/gone" does not exist or holds no kustomization.yaml`},
		{"services[0].clients[0]", `unknown service "nms"`},
		{"policy.prometheus.url", "must not carry credentials; name an environment variable in bearerTokenEnv or basicAuth"},
		{"policy.overload.cpu", "must be in (0,1], got 1.2"},
		{"gitops.github", "owner and repo are required with forge github"},
		{"gitops.argocd", "required with engine argocd"},
	}
	got := problems(t, doc)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", list(got), list(want))
	}
	msg := got.Error()
	if !strings.HasPrefix(msg, "13 problem(s):\n  apiVersion: must be") {
		t.Errorf("Error() = %q, want it to count the problems and list one a line", msg)
	}
	if n := strings.Count(msg, "\n"); n != 13 {
		t.Errorf("Error() has %d lines after the first, want 13", n)
	}
}

// TestValidateWithoutRepo checks that a nil repository skips the base folder check only.
func TestValidateWithoutRepo(t *testing.T) {
	cfg, err := Parse([]byte(edit(t, minimal, "base: base/web", "base: base/www")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(nil); err != nil {
		t.Errorf("Validate(nil) = %v, want no check of base folders", err)
	}
	if err := cfg.Validate(fstest.MapFS{}); err == nil {
		t.Error("Validate(empty tree) accepted a missing base folder")
	}
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load("../../gitmig.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	var names, paths, dnsNames []string
	for _, cl := range cfg.Clusters {
		names = append(names, cl.Name+"/"+cl.Tier)
		paths = append(paths, cl.Path)
		dnsNames = append(dnsNames, cl.Ingress.DNSName)
	}
	assertEqual(t, "clusters", names, []string{"edge/edge", "fog/fog", "cloud/cloud"})
	assertEqual(t, "paths", paths, []string{"clusters/edge", "clusters/fog", "clusters/cloud"})
	assertEqual(t, "dnsNames", dnsNames, []string{"edge.testnetwork.internal", "fog.testnetwork.internal", "cloud.testnetwork.internal"})

	cloud, ok := cfg.Cluster("cloud")
	if !ok {
		t.Fatal("no cluster cloud")
	}
	if got, want := cloud.EntryPointList(), "api:8080/http, rpc:9180/http, web:80/http, websecure:443/tls"; got != want {
		t.Errorf("cloud entry points = %s, want %s", got, want)
	}
	if cpu, ok := cloud.CPUCores(); !ok || cpu != 64 {
		t.Errorf("cloud cpu = %v, %v; want 64", cpu, ok)
	}
	if mem, ok := cloud.MemoryBytes(); !ok || mem != 256*(1<<30) {
		t.Errorf("cloud memory = %v, %v; want 256Gi", mem, ok)
	}
	if ms, ok := cfg.LatencyMS("cloud", "edge"); !ok || ms != 20 {
		t.Errorf("latency cloud-edge = %v, %v; want 20 (symmetric)", ms, ok)
	}

	orc8r, ok := cfg.Service("orc8r")
	if !ok {
		t.Fatal("no service orc8r")
	}
	assertEqual(t, "orc8r", []string{orc8r.Namespace, orc8r.Base}, []string{"orc8r-ns", "base/orc8r"})
	assertEqual(t, "orc8r clients", orc8r.Clients, []string{"agw"})
	assertEqual(t, "orc8r hosts", orc8r.Hosts, []string{"controller.magma.test", "bootstrapper-controller.magma.test"})
	if orc8r.MaxLatencyMS == nil || *orc8r.MaxLatencyMS != 25 {
		t.Errorf("orc8r maxLatencyMs = %v, want 25", orc8r.MaxLatencyMS)
	}
	var deps []string
	for _, d := range cfg.Dependencies("agw") {
		deps = append(deps, d.Name)
	}
	assertEqual(t, "agw calls", deps, []string{"orc8r"})
	if agw, _ := cfg.Service("agw"); !agw.Pinned {
		t.Error("agw is not pinned")
	}

	p := cfg.Policy
	if p.Overload != (Thresholds{CPU: 0.80, Memory: 0.85}) || p.Target != (Thresholds{CPU: 0.70, Memory: 0.75}) {
		t.Errorf("thresholds = %+v, %+v", p.Overload, p.Target)
	}
	if p.Sustain.Duration != 10*time.Minute || p.StepTimeout.Duration != 30*time.Minute {
		t.Errorf("sustain %v, stepTimeout %v", p.Sustain, p.StepTimeout)
	}
	g := cfg.GitOps
	assertEqual(t, "gitops", []string{g.Engine, g.Forge, g.DNS, g.GitHub.Owner, g.GitHub.Repo, g.ArgoCD.Applications["fog"]},
		[]string{"argocd", "github", "externalname", "example", "fleet", "fog"})
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		t.Helper()
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := Load(dir+"/absent.yaml", ""); err == nil || !strings.HasPrefix(err.Error(), "reading config: ") {
		t.Errorf("missing file: %v", err)
	}
	// The bases of minimal are not under dir.
	p := write("bases.yaml", minimal)
	_, err := Load(p, "")
	want := p + ": 2 problem(s):\n  services[0].base: folder \"base/api\" does not exist or holds no kustomization.yaml\n" +
		"  services[1].base: folder \"base/web\" does not exist or holds no kustomization.yaml"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant %s", err, want)
	}
	var v ValidationError
	if !errors.As(err, &v) || len(v) != 2 {
		t.Errorf("Load error does not unwrap to the two field errors: %#v", err)
	}
	p = write("typo.yaml", edit(t, minimal, "    tier: edge", "    teir: edge"))
	if _, err := Load(p, "../../"); err == nil || err.Error() != p+": 1 problem(s):\n  clusters[0].teir: unknown field" {
		t.Errorf("Load = %v", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte(edit(t, minimal,
		"    tier: cloud\n", "    tier: cloud\n    path: ./overlays/cloud-west/\n",
		"services:", "gitops: {forge: github, github: {owner: o, repo: r}, engine: argocd, argocd: {}, flux: {}}\nservices:")))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "paths", []string{cfg.Clusters[0].Path, cfg.Clusters[1].Path}, []string{"clusters/edge", "overlays/cloud-west"})
	p := cfg.Policy
	assertEqual(t, "prometheus", []string{p.Prometheus.URL, p.Prometheus.ClusterLabel, p.Prometheus.Timeout.String()},
		[]string{"http://127.0.0.1:9090", "cluster", "30s"})
	durations := []string{p.Sustain.String(), p.Cooldown.String(), p.Drain.String(), p.StepTimeout.String()}
	assertEqual(t, "sustain, cooldown, drain, stepTimeout", durations, []string{"10m0s", "1h0m0s", "5m0s", "30m0s"})
	if p.Overload != (Thresholds{CPU: 0.80, Memory: 0.85}) || p.Target != (Thresholds{CPU: 0.70, Memory: 0.75}) {
		t.Errorf("thresholds = %+v, %+v", p.Overload, p.Target)
	}
	if p.MaxConcurrent != 1 || p.Stickiness != 10 {
		t.Errorf("maxConcurrent %d, stickiness %v; want 1, 10", p.MaxConcurrent, p.Stickiness)
	}
	q := p.Queries
	// The default queries, verbatim.
	assertEqual(t, "cpuUsage", []string{q.CPUUsage},
		[]string{`sum by (cluster, namespace, workload) (label_replace(rate(container_cpu_usage_seconds_total{image!=""}[5m]), "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`})
	assertEqual(t, "memoryUsage", []string{q.MemoryUsage},
		[]string{`sum by (cluster, namespace, workload) (label_replace(container_memory_working_set_bytes{image!=""}, "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`})
	assertEqual(t, "requests", []string{q.CPURequests, q.MemoryRequests}, []string{
		`sum by (cluster, namespace, workload) (label_replace(kube_pod_container_resource_requests{resource="cpu"}, "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`,
		`sum by (cluster, namespace, workload) (label_replace(kube_pod_container_resource_requests{resource="memory"}, "workload", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`,
	})
	assertEqual(t, "capacity", []string{q.CPUCapacity, q.MemoryCapacity}, []string{
		`sum by (cluster) (kube_node_status_allocatable{resource="cpu"})`,
		`sum by (cluster) (kube_node_status_allocatable{resource="memory"})`,
	})
	g := cfg.GitOps
	assertEqual(t, "gitops", []string{g.Branch, g.DNS, g.GitHub.TokenEnv, g.ArgoCD.Namespace, g.Flux.Namespace},
		[]string{"main", "externalname", "GITMIG_GITHUB_TOKEN", "argocd", "flux-system"})

	// Without a gitops section: no engine, the local forge.
	cfg, err = Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "bare gitops", []string{cfg.GitOps.Engine, cfg.GitOps.Forge}, []string{"none", "local"})
}

// TestQueriesFollowLabels checks that renamed labels reach every default query and that
// a query given in the file is kept.
func TestQueriesFollowLabels(t *testing.T) {
	cfg, err := Parse([]byte(edit(t, minimal, "services:",
		"policy:\n  prometheus: {clusterLabel: k8s_cluster}\n  queries: {workloadLabel: app, memoryUsage: my_memory}\nservices:")))
	if err != nil {
		t.Fatal(err)
	}
	q := cfg.Policy.Queries
	if want := `sum by (k8s_cluster, namespace, app) (label_replace(rate(container_cpu_usage_seconds_total{image!=""}[5m]), "app", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`; q.CPUUsage != want {
		t.Errorf("cpuUsage = %s\nwant %s", q.CPUUsage, want)
	}
	if want := `sum by (k8s_cluster) (kube_node_status_allocatable{resource="memory"})`; q.MemoryCapacity != want {
		t.Errorf("memoryCapacity = %s, want %s", q.MemoryCapacity, want)
	}
	if q.MemoryUsage != "my_memory" {
		t.Errorf("memoryUsage = %q, want the file's own", q.MemoryUsage)
	}
}

func TestLookups(t *testing.T) {
	cfg, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cl, ok := cfg.ClusterByDNSName("cloud.example.internal."); !ok || cl.Name != "cloud" {
		t.Errorf("ClusterByDNSName with trailing dot = %q, %v", cl.Name, ok)
	}
	if _, ok := cfg.ClusterByDNSName(""); ok {
		t.Error("ClusterByDNSName(\"\") found a cluster")
	}
	if _, ok := cfg.LatencyMS("edge", "fog"); ok {
		t.Error("LatencyMS to an unlisted cluster is known")
	}
	if ms, ok := cfg.LatencyMS("edge", "edge"); !ok || ms != 0 {
		t.Errorf("LatencyMS to self = %v, %v", ms, ok)
	}
	edge, _ := cfg.Cluster("edge")
	if _, ok := edge.EntryPointForPort(443); ok {
		t.Error("edge has an entry point on 443")
	}
	if _, ok := edge.CPUCores(); ok {
		t.Error("edge has a configured capacity")
	}
	if deps := cfg.Dependencies("web"); len(deps) != 0 {
		t.Errorf("web calls %v, want nothing", deps)
	}
}

// TestEntryPointProtocols reads both forms of an entry point and finds the one a
// route of each kind needs.
func TestEntryPointProtocols(t *testing.T) {
	cfg, err := Parse([]byte(edit(t, minimal, "{web: 80, websecure: 443}",
		"{web: 80, websecure: {port: 443, protocol: tls}, db: {port: 5432, protocol: tcp}, dns: {protocol: udp, port: 53}, alt: {port: 8080}}")))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(nil); err != nil {
		t.Fatal(err)
	}
	cloud, _ := cfg.Cluster("cloud")
	want := map[string]EntryPoint{
		"web": {80, "http"}, "websecure": {443, "tls"}, "db": {5432, "tcp"}, "dns": {53, "udp"}, "alt": {8080, "http"},
	}
	assertEqual(t, "entry points", cloud.Ingress.EntryPoints, want)
	for _, tt := range []struct {
		port int32
		kind traffic.Kind
		want string // the entry point, or the error
	}{
		{80, traffic.HTTP, "web"},
		{8080, traffic.H2C, "alt"},
		{443, traffic.TLS, "websecure"},
		{5432, traffic.TCP, "db"},
		{53, traffic.UDP, "dns"},
		{443, traffic.HTTP, "entry point websecure on port 443 is tls, not http as the port's http route needs"},
		{80, traffic.TLS, "entry point web on port 80 is http, not tls as the port's tls route needs"},
		{5432, traffic.UDP, "entry point db on port 5432 is tcp, not udp as the port's udp route needs"},
		{9000, traffic.HTTP, "no entry point on port 9000"},
	} {
		got, err := cloud.EntryPointFor(tt.port, tt.kind)
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("EntryPointFor(%d, %s) = %q, want %q", tt.port, tt.kind, got, tt.want)
		}
	}
	if got, want := cloud.EntryPointList(), "alt:8080/http, db:5432/tcp, dns:53/udp, web:80/http, websecure:443/tls"; got != want {
		t.Errorf("EntryPointList() = %q, want %q", got, want)
	}
}

func TestPortProtocolOverrides(t *testing.T) {
	svc := Service{Ports: []PortProtocol{{Name: "controller", AppProtocol: "tls"}, {Port: 9180, AppProtocol: "grpc"}}}
	for _, tt := range []struct {
		name      string
		port      int32
		own, want string
	}{
		{"controller", 443, "", "tls"},
		{"controller", 443, "http", "tls"},
		{"rpc", 9180, "", "grpc"},
		{"", 9180, "http", "grpc"},
		{"api", 8080, "http", "http"},
		{"", 8080, "", ""},
	} {
		if got := svc.AppProtocol(tt.name, tt.port, tt.own); got != tt.want {
			t.Errorf("AppProtocol(%q, %d, %q) = %q, want %q", tt.name, tt.port, tt.own, got, tt.want)
		}
	}
}

// FuzzParse checks that no input makes Parse or Validate panic, and that every problem
// they report names a field. `go test` runs the seeds; `go test -fuzz FuzzParse` explores.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile("../../gitmig.yaml"); err == nil {
		f.Add(example)
	}
	f.Add([]byte(minimal))
	for _, seed := range []string{
		"", "{}", "[]", "null", "~", "kind: Config", "clusters: [{}]", "clusters: [null]",
		"clusters: [{name: a, ingress: {entryPoints: {web: -1}}}]",
		"clusters: [{name: a, ingress: {entryPoints: {a: {}, b: {port: x}, c: [], d: '', e: {protocol: 1}, f: null}}}]",
		"services: [{name: s, hosts: [''], ports: [{}, {name: a, port: -1, appProtocol: ''}]}]",
		"latency: [{between: []}, {between: [a]}, {between: null}]",
		"services: [{name: s, base: /abs, clients: [s, '']}]",
		"services: [{name: s, base: ../x}, {base: .}]",
		"policy: {sustain: 1e400h}", "policy: {sustain: '-9223372036854775808ns'}",
		"policy: {prometheus: {url: '%zz'}}", "policy: {prometheus: {basicAuth: {}}}",
		"gitops: {engine: flux, flux: {kustomizations: {'': x}}, workloads: {'': {}}}",
		"clusters: {a: 1}", "a: &a [*a]", "clusters:\n- name: edge\n  capacity: {cpu: 1e1000}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			checkProblems(t, err)
			return
		}
		checkProblems(t, cfg.Validate(nil))
		checkProblems(t, cfg.Validate(repoFS()))
	})
}

func checkProblems(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	_ = err.Error()
	var v ValidationError
	if !errors.As(err, &v) {
		return
	}
	if len(v) == 0 {
		t.Errorf("an empty ValidationError is an error")
	}
	for _, e := range v {
		if e.Field == "" || e.Message == "" {
			t.Errorf("problem without field or message: %+v", e)
		}
	}
}

func assertEqual[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestExplicitZeroIsKeptAndChecked(t *testing.T) {
	cfg, err := Parse([]byte(minimal + "policy: {stickiness: 0, drain: 0s, cooldown: 0s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.Stickiness != 0 || cfg.Policy.Drain.Duration != 0 || cfg.Policy.Cooldown.Duration != 0 {
		t.Errorf("explicit zeros became defaults: stickiness %v, drain %s, cooldown %s", cfg.Policy.Stickiness, cfg.Policy.Drain, cfg.Policy.Cooldown)
	}
	if cfg.Policy.MaxConcurrent != 1 || cfg.Policy.Sustain.Duration != 10*time.Minute {
		t.Errorf("unset fields lost their defaults: %+v", cfg.Policy)
	}
	cfg, err = Parse([]byte(minimal + "policy: {maxConcurrent: 0, overload: {cpu: 0}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(nil)
	for _, want := range []string{"policy.maxConcurrent: must be at least 1, got 0", "policy.overload.cpu: must be in (0,1], got 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation of explicit zeros: want %q in %v", want, err)
		}
	}
}

func TestFieldNamesAreCaseSensitive(t *testing.T) {
	_, err := Parse([]byte(strings.Replace(minimal, "tier:", "Tier:", 1)))
	if err == nil || !strings.Contains(err.Error(), "clusters[0].Tier: unknown field") {
		t.Fatalf("Tier: want an unknown field at clusters[0].Tier, got %v", err)
	}
}

func TestExecutionSettings(t *testing.T) {
	cfg, err := Parse([]byte(minimal + "policy: {drain: 30m, stepTimeout: 30m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.GitOps.AutoMerge = []string{"deploy", "merge"}
	cfg.GitOps.Author = &Author{Name: "gitmig", Email: "nobody"}
	err = cfg.Validate(nil)
	for _, want := range []string{
		"policy.stepTimeout: 30m0s must be longer than policy.drain 30m0s",
		`gitops.autoMerge[1]: must be a step name (deploy, route, flip, cleanup), got "merge"`,
		"gitops.author: needs a name and an email address",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
}

func TestUnquotedYAMLBooleansAsNames(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(minimal, "namespace: ", "namespace: no #", 1)))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(nil)
	if err == nil || !strings.Contains(err.Error(), `services[0].namespace: "false": YAML reads an unquoted y, n, yes, no, on or off as a boolean; quote the name`) {
		t.Fatalf("namespace: no: %v", err)
	}
}

func TestHostileGitOpsSettingsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		gitops string
		field  string
		secret string
	}{
		{"{remote: 'https://x-access-token:ghs_secret1@github.com/o/fleet.git'}", "gitops.remote", "ghs_secret1"},
		{"{remote: 'https://ghp_tokenasuser@github.com/o/fleet.git'}", "gitops.remote", "ghp_tokenasuser"},
		{"{remote: 'deploy:hunter22@git.example.test:o/fleet.git'}", "gitops.remote", "hunter22"},
		{"{remote: fleet.git, branch: 'main:refs/heads/evil'}", "gitops.branch", ""},
		{"{remote: fleet.git, branch: '--force'}", "gitops.branch", ""},
		{"{remote: fleet.git, branch: 'a..b'}", "gitops.branch", ""},
		{"{remote: fleet.git, branch: 'release/.hidden'}", "gitops.branch", ""},
	} {
		cfg, err := Parse([]byte(minimal + "gitops: " + tc.gitops + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate(nil)
		if err == nil || !strings.Contains(err.Error(), tc.field+":") {
			t.Errorf("gitops %s: %v, want a problem with %s", tc.gitops, err, tc.field)
			continue
		}
		if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
	for _, ok := range []string{"git@github.com:o/fleet.git", "ssh://git@github.com/o/fleet.git", "https://github.com/o/fleet.git", "../fleet.git"} {
		cfg, err := Parse([]byte(minimal + "gitops: {remote: '" + ok + "', branch: release/2026-12}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(nil); err != nil && strings.Contains(err.Error(), "gitops.remote") {
			t.Errorf("remote %s refused: %v", ok, err)
		}
	}
}

func TestASecondDocumentIsAnError(t *testing.T) {
	_, err := Parse([]byte(minimal + "---\npolicy: {maxConcurrent: 50}\n"))
	if err == nil || !strings.Contains(err.Error(), "2 YAML documents") {
		t.Fatalf("a second document: %v", err)
	}
	if _, err := Parse([]byte("# a comment\n---\n" + minimal + "---\n# trailing\n")); err != nil {
		t.Errorf("comments around one document: %v", err)
	}
}

func TestAbsurdQuantitiesAreConfigErrors(t *testing.T) {
	cfg, err := Parse([]byte(strings.Replace(minimal, "tier: edge\n", "tier: edge\n    capacity: {cpu: \"1e300\", memory: 16Gi}\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(nil); err == nil || !strings.Contains(err.Error(), "clusters[0].capacity.cpu: 1e300 is beyond any cluster") {
		t.Errorf("cpu 1e300: %v", err)
	}
}
