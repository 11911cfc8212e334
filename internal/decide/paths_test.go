package decide

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
)

func spell(paths []ClientPath) string {
	var lines []string
	for _, p := range paths {
		latency := "?"
		if p.LatencyMS != nil {
			latency = fmt.Sprint(*p.LatencyMS)
		}
		lines = append(lines, fmt.Sprintf("%s %s@%s %s %s", p.Service, p.Client, p.Cluster, strings.Join(p.Path, ">"), latency))
	}
	return strings.Join(lines, "\n")
}

// A plan says how each client will reach a moved service, and how the moved service
// will reach what it calls: locally, or in one hop with gitmig.yaml's latency.
func TestClientAndCallPaths(t *testing.T) {
	cfg, err := config.Parse([]byte(`
apiVersion: gitmig.dev/v1alpha1
kind: Config
clusters:
  - {name: edge, tier: edge, ingress: {dnsName: edge.example, entryPoints: {web: 80}}}
  - {name: fog, tier: fog, ingress: {dnsName: fog.example, entryPoints: {web: 80}}}
  - {name: cloud, tier: cloud, ingress: {dnsName: cloud.example, entryPoints: {web: 80}}}
latency:
  - {between: [edge, fog], ms: 5}
  - {between: [edge, cloud], ms: 20}
services:
  - {name: api, namespace: a, base: base/api, clients: [web, gateway]}
  - {name: db, namespace: a, base: base/db, clients: [api]}
  - {name: web, namespace: a, base: base/web}
  - {name: gateway, namespace: a, base: base/gateway}
`))
	if err != nil {
		t.Fatal(err)
	}
	running := map[string][]string{"api": {"edge"}, "db": {"cloud"}, "web": {"edge", "fog"}, "gateway": {"cloud"}}
	if got, want := spell(ClientPaths(cfg, running, "api", "fog")), " gateway@cloud cloud>fog ?\n web@edge edge>fog 5\n web@fog fog 0"; got != want {
		t.Errorf("ClientPaths:\n%s\nwant\n%s", got, want)
	}
	if got, want := spell(CallPaths(cfg, running, "api", "fog")), "db api@fog fog>cloud ?"; got != want {
		t.Errorf("CallPaths to fog:\n%s\nwant\n%s", got, want)
	}
	if got, want := spell(CallPaths(cfg, running, "api", "cloud")), "db api@cloud cloud 0"; got != want {
		t.Errorf("CallPaths to cloud:\n%s\nwant\n%s", got, want)
	}
	// A client-only workload has no clients, only calls.
	if got, want := spell(CallPaths(cfg, running, "gateway", "edge")), "api gateway@edge edge 0"; got != want {
		t.Errorf("CallPaths of gateway:\n%s\nwant\n%s", got, want)
	}
	if got := ClientPaths(cfg, running, "gateway", "edge"); len(got) != 0 {
		t.Errorf("ClientPaths of gateway: %+v", got)
	}
}
