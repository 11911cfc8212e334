package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/traffic"
)

// Load reads, defaults and validates the gitmig.yaml at path. Base folders are checked
// relative to repoRoot; an empty repoRoot means the folder holding path.
func Load(path, repoRoot string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if repoRoot == "" {
		repoRoot = filepath.Dir(path)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := cfg.Validate(os.DirFS(repoRoot)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a gitmig.yaml document strictly (unknown fields are errors) and applies
// the defaults. It does not validate.
func Parse(data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty document")
	}
	// Numbers and durations are preset so that decoding overwrites only those the file
	// sets: an explicit 0 (stickiness: 0, drain: 0s) stays 0, and an invalid 0
	// (maxConcurrent: 0) reaches validation instead of becoming the default.
	if n := documentCount(data); n > 1 {
		return nil, fmt.Errorf("decoding: %d YAML documents; gitmig.yaml holds one, and a second would be ignored", n)
	}
	cfg := Config{Policy: DefaultPolicy()}
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("decoding: %s", cleanDecodeError(err))
	}
	// Kubernetes' strict decoder matches field names by case, as encoding/json does
	// not (`Tier:` is reported rather than read as `tier:`), and reports every unknown
	// field with its path, where encoding/json stops at the first and does not say
	// where it is.
	strict, err := kjson.UnmarshalStrict(j, &cfg, kjson.DisallowUnknownFields)
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Value == "bool" && typeErr.Type.Kind() == reflect.String {
		// An unquoted no or on where a name belongs: decoding against the types reads
		// it as the string "false", which validation then explains.
		cfg = Config{Policy: DefaultPolicy()}
		err = yaml.UnmarshalStrict(data, &cfg)
	}
	if err != nil {
		return nil, decodeError(err)
	}
	if unknown := unknownFields(strict); len(unknown) > 0 {
		return nil, unknown
	}
	cfg.Default()
	// A copy: the caller may reuse its buffer.
	cfg.source = bytes.Clone(data)
	return &cfg, nil
}

// DecodedFrom reports whether Parse made c from exactly data: a Config is not changed
// after Parse, so a reader of the same bytes may share it.
func (c *Config) DecodedFrom(data []byte) bool {
	return c != nil && c.source != nil && bytes.Equal(c.source, data)
}

// DefaultPolicy is the policy gitmig applies where gitmig.yaml says nothing;
// docs/config-reference.md lists it.
func DefaultPolicy() Policy {
	return Policy{
		Prometheus:    Prometheus{Timeout: Duration{30 * time.Second}},
		Overload:      Thresholds{CPU: 0.80, Memory: 0.85},
		Target:        Thresholds{CPU: 0.70, Memory: 0.75},
		Sustain:       Duration{10 * time.Minute},
		Cooldown:      Duration{time.Hour},
		MaxConcurrent: 1,
		Stickiness:    10,
		RouteSettle:   Duration{15 * time.Second},
		Drain:         Duration{5 * time.Minute},
		StepTimeout:   Duration{30 * time.Minute},
		IdleRate:      0.1,
	}
}

// documentCount counts the YAML documents of data that hold something.
func documentCount(data []byte) int {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	n := 0
	for {
		doc, err := reader.Read()
		if err != nil {
			return n
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			n++
		}
	}
}

// stripComments drops comment lines, which make a document of nothing.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' && !bytes.Equal(t, []byte("---")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// unknownFields lists the fields the strict decoder did not know, by path.
func unknownFields(strict []error) ValidationError {
	var unknown ValidationError
	for _, e := range strict {
		if fe, ok := e.(kjson.FieldError); ok {
			field := fe.FieldPath()
			if field == "" {
				field = `""` // an empty key at the top
			}
			unknown = append(unknown, FieldError{Field: field, Message: "unknown field"})
		}
	}
	return unknown
}

// decodeError names the field of a value of the wrong type where it can.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return ValidationError{{Field: typeErr.Field, Message: typeMessage(typeErr)}}
	}
	return fmt.Errorf("decoding: %s", cleanDecodeError(err))
}

var (
	durationType   = reflect.TypeFor[Duration]()
	entryPointType = reflect.TypeFor[EntryPoint]()
)

func typeMessage(e *json.UnmarshalTypeError) string {
	switch e.Type {
	case durationType:
		return fmt.Sprintf("invalid duration %s: want a number with a unit such as 30s, 10m or 1h", e.Value)
	case entryPointType:
		return fmt.Sprintf("want a port such as 80, or {port: 5432, protocol: tcp}, got %s", e.Value)
	}
	want := e.Type.String()
	switch e.Type.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64:
		want = fmt.Sprintf("an integer (%s)", e.Type)
	case reflect.Float64:
		want = "a number"
	case reflect.Slice:
		want = "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		want = "a mapping"
	}
	return fmt.Sprintf("want %s, got %s", want, e.Value)
}

// cleanDecodeError drops the layers of wrapping that sigs.k8s.io/yaml adds, so the user
// sees "unknown field \"foo\"" or the line of a syntax error, not the library's plumbing.
func cleanDecodeError(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.ReplaceAll(msg, prefix, "")
	}
	msg = strings.ReplaceAll(msg, "Go struct field ", "")
	return msg
}

// Defaults that Default fills in, listed in docs/config-reference.md.
const (
	DefaultPrometheusURL = "http://127.0.0.1:9090"
	DefaultClusterLabel  = "cluster"
	DefaultBranch        = "main"
)

// Default fills every optional field that has a default.
func (c *Config) Default() {
	for i := range c.Clusters {
		if c.Clusters[i].Path == "" && c.Clusters[i].Name != "" {
			c.Clusters[i].Path = "clusters/" + c.Clusters[i].Name
		}
		if c.Clusters[i].Path != "" {
			c.Clusters[i].Path = filepath.ToSlash(filepath.Clean(c.Clusters[i].Path))
		}
		for name, ep := range c.Clusters[i].Ingress.EntryPoints {
			if ep.Protocol == "" {
				ep.Protocol = string(traffic.HTTP)
				c.Clusters[i].Ingress.EntryPoints[name] = ep
			}
		}
	}
	for i := range c.Services {
		if c.Services[i].Base != "" {
			c.Services[i].Base = filepath.ToSlash(filepath.Clean(c.Services[i].Base))
		}
	}
	p := &c.Policy
	setString(&p.Prometheus.URL, DefaultPrometheusURL)
	setString(&p.Prometheus.ClusterLabel, DefaultClusterLabel)
	p.Queries.Default(p.Prometheus.ClusterLabel)
	g := &c.GitOps
	setString(&g.Branch, DefaultBranch)
	setString(&g.Forge, ForgeLocal)
	if g.Forge != ForgeGitHub {
		// With GitHub, pull requests reach a real fleet: the engine that applies them
		// must be named, so that none (a merge counts as applied) is never a default.
		setString(&g.Engine, EngineNone)
	}
	setString(&g.DNS, DNSExternalName)
	if g.GitHub != nil {
		setString(&g.GitHub.TokenEnv, "GITMIG_GITHUB_TOKEN")
	}
	if g.ArgoCD != nil {
		setString(&g.ArgoCD.Namespace, "argocd")
	}
	if g.Flux != nil {
		setString(&g.Flux.Namespace, "flux-system")
	}
}

// Default fills the queries left empty with the default PromQL (docs/config-reference.md,
// Default queries), grouped by clusterLabel and the two label fields.
func (q *Queries) Default(clusterLabel string) {
	setString(&q.NamespaceLabel, "namespace")
	setString(&q.WorkloadLabel, "workload")
	by := fmt.Sprintf("%s, %s, %s", clusterLabel, q.NamespaceLabel, q.WorkloadLabel)
	usage := func(metric string) string {
		return fmt.Sprintf(`sum by (%s) (label_replace(%s, "%s", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"))`,
			by, metric, q.WorkloadLabel)
	}
	setString(&q.CPUUsage, usage(`rate(container_cpu_usage_seconds_total{image!=""}[5m])`))
	setString(&q.MemoryUsage, usage(`container_memory_working_set_bytes{image!=""}`))
	setString(&q.CPURequests, usage(`kube_pod_container_resource_requests{resource="cpu"}`))
	setString(&q.MemoryRequests, usage(`kube_pod_container_resource_requests{resource="memory"}`))
	setString(&q.CPUCapacity, fmt.Sprintf(`sum by (%s) (kube_node_status_allocatable{resource="cpu"})`, clusterLabel))
	setString(&q.MemoryCapacity, fmt.Sprintf(`sum by (%s) (kube_node_status_allocatable{resource="memory"})`, clusterLabel))
	deployment := fmt.Sprintf(`{%s="{{.Cluster}}", %s="{{.Namespace}}", deployment="{{.Service}}"}`, clusterLabel, q.NamespaceLabel)
	setString(&q.ReplicasAvailable, "sum(kube_deployment_status_replicas_available"+deployment+")")
	setString(&q.ReplicasDesired, "sum(kube_deployment_spec_replicas"+deployment+")")
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// UnmarshalJSON accepts Go duration strings such as "10m" or "1h30m".
func (d *Duration) UnmarshalJSON(b []byte) error {
	// An *json.UnmarshalTypeError, so that encoding/json adds the field's path.
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: durationType}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s), Type: durationType}
	}
	d.Duration = v
	return nil
}

// UnmarshalJSON reads an entry point written as its port, or as a mapping of port and
// protocol.
func (e *EntryPoint) UnmarshalJSON(b []byte) error {
	// Errors are *json.UnmarshalTypeError, so that encoding/json adds the field's path.
	fail := func(got string) error { return &json.UnmarshalTypeError{Value: got, Type: entryPointType} }
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fail("nothing")
	case b[0] == '{':
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return fail("a mapping that does not decode")
		}
		*e = EntryPoint{}
		for _, key := range sortedKeys(fields) {
			var err error
			switch key {
			case "port":
				err = json.Unmarshal(fields[key], &e.Port)
			case "protocol":
				err = json.Unmarshal(fields[key], &e.Protocol)
			default:
				return fail(fmt.Sprintf("unknown field %q", key))
			}
			if err != nil {
				return fail(fmt.Sprintf("%s %s", key, fields[key]))
			}
		}
		return nil
	case b[0] == '"':
		return fail("string " + string(b))
	}
	var port int32
	if err := json.Unmarshal(b, &port); err != nil {
		return fail(string(b))
	}
	*e = EntryPoint{Port: port}
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}
