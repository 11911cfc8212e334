package verify

import (
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
)

// webWithoutService is the hand-made tree with web a client-only workload: its base
// has its Deployment and no Service.
func webWithoutService() map[string]string {
	files := handMadeTree()
	files["base/web/kustomization.yaml"] = "resources: [deployment.yaml]\n"
	delete(files, "base/web/service.yaml")
	return files
}

// A workload with no Service is a client like any other: verify checks that what it
// calls resolves where it runs, and reports neither its missing Service nor its
// missing ports. Listing clients for it is the one mistake it can hold.
func TestVerifyClientOnlyWorkload(t *testing.T) {
	if findings := verifyTree(t, handMadeConfig, webWithoutService()); len(findings) != 0 {
		t.Fatalf("a client-only web: want no findings, got\n%s", findingLines(findings))
	}
	broken := webWithoutService()
	delete(broken, "clusters/west/api-externalname.yaml")
	broken["clusters/west/kustomization.yaml"] = "resources: [namespace.yaml, ../../base/web]\n"
	got := findingLines(verifyTree(t, handMadeConfig, broken))
	if want := "service api, cluster west: no Service shop/api in west, so its name does not resolve there (checked because its client web runs there)"; !strings.Contains(got, want) {
		t.Errorf("a client-only web that cannot reach api: findings\n%s\nwant %q", got, want)
	}
	withClients := strings.Replace(handMadeConfig, "{name: web, namespace: shop, base: base/web}", "{name: web, namespace: shop, base: base/web, clients: [api]}", 1)
	got = findingLines(verifyTree(t, withClients, webWithoutService()))
	if want := "service web: gitmig.yaml lists clients of it (api), but base base/web has no Service shop/web for them to call"; !strings.Contains(got, want) {
		t.Errorf("clients of a client-only web: findings\n%s\nwant %q", got, want)
	}
}

// A base with neither the Deployment nor the Service gitmig.yaml names is an error,
// not a client-only workload.
func TestVerifyBaseWithNeither(t *testing.T) {
	files := handMadeTree()
	files["base/web/kustomization.yaml"] = "resources: []\n"
	got := findingLines(verifyTree(t, handMadeConfig, files))
	if want := "service web: service web: base base/web has neither a Deployment nor a Service web in namespace shop"; !strings.Contains(got, want) {
		t.Errorf("findings\n%s\nwant %q", got, want)
	}
}

// Paths follows a client's name through every ExternalName, adding up latencies: a
// chain north → west → east is two hops and both latencies.
func TestPathsFollowsChains(t *testing.T) {
	cfgYAML := handMadeConfig + `latency:
  - {between: [west, east], ms: 20}
  - {between: [north, west], ms: 5}
`
	cfgYAML = strings.Replace(cfgYAML, "services:", `  - name: north
    tier: edge
    ingress: {dnsName: north.example.internal, entryPoints: `+entryPoints+`}
services:`, 1)
	files := handMadeTree()
	files["clusters/north/kustomization.yaml"] = "resources: [namespace.yaml, ../../base/web, api-externalname.yaml]\n"
	files["clusters/north/namespace.yaml"] = files["clusters/west/namespace.yaml"]
	files["clusters/north/api-externalname.yaml"] = strings.Replace(files["clusters/west/api-externalname.yaml"], "east.example.internal", "west.example.internal", 1)
	cfg, err := config.Parse([]byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	model := loadModel(t, cfg, files)
	api, _ := cfg.Service("api")
	var got []string
	for _, p := range Paths(model, api) {
		got = append(got, p.String())
		if p.Chained() != (p.Cluster == "north") {
			t.Errorf("%s: Chained() = %v", p, p.Chained())
		}
	}
	// west routes no api, which Verify reports; Paths shows where the names lead.
	if want := "web@north → west → east (2 hops, 25ms)\nweb@west → east (1 hop, 20ms)"; strings.Join(got, "\n") != want {
		t.Errorf("paths:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
}
