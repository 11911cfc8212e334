package gate

import (
	"strings"
	"testing"

	"k8s.io/client-go/dynamic"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// routes are step 2's routes of a service that speaks TLS, h2c and UDP, as the API
// server stores them once the engine has applied them.
const routes = `apiVersion: v1
kind: Namespace
metadata: {name: orc8r-ns}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRouteTCP
metadata: {name: orc8r-controller, namespace: orc8r-ns}
spec:
  entryPoints: [websecure]
  routes: [{match: "HostSNI(` + "`orc8r`" + `)", services: [{name: orc8r, port: 443}]}]
  tls: {passthrough: true}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: orc8r-rpc, namespace: orc8r-ns}
spec:
  entryPoints: [rpc]
  routes: [{kind: Rule, match: "Host(` + "`orc8r`" + `)", services: [{name: orc8r, port: 9180, scheme: h2c}]}]
`

const udpRoute = `apiVersion: traefik.io/v1alpha1
kind: IngressRouteUDP
metadata: {name: orc8r-stats, namespace: orc8r-ns}
spec:
  entryPoints: [stats]
  routes: [{services: [{name: orc8r, port: 8125}]}]
`

// After step 2 the workloads gate waits for every route of the build, whatever its
// kind, on a real API server with Traefik's CRDs.
func TestRoutesInPlace(t *testing.T) {
	env := kubeenv.Start(t, "cloud")
	cloud := env.Cluster("cloud")
	w := Workloads{Clients: map[string]dynamic.Interface{"cloud": cloud.Dynamic}}
	req := request(2)
	req.Routes = []Route{
		{"IngressRouteTCP", "orc8r-ns", "orc8r-controller"},
		{"IngressRoute", "orc8r-ns", "orc8r-rpc"},
		{"IngressRouteUDP", "orc8r-ns", "orc8r-stats"},
	}
	check := func(verdict Verdict, reason string) {
		t.Helper()
		res, err := w.Check(t.Context(), req)
		if err != nil || res.Verdict != verdict || !strings.Contains(res.Reason, reason) {
			t.Errorf("Check = %+v, %v; want %s saying %q", res, err, verdict, reason)
		}
	}
	apply := func(yml string) {
		t.Helper()
		objs, err := kubeenv.ParseYAML([]byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		if err := cloud.Applier("test").Apply(t.Context(), objs); err != nil {
			t.Fatal(err)
		}
	}

	check(Wait, "IngressRouteTCP orc8r-ns/orc8r-controller is not in cloud yet")
	apply(routes)
	check(Wait, "IngressRouteUDP orc8r-ns/orc8r-stats is not in cloud yet")
	apply(udpRoute)
	check(Pass, "IngressRouteTCP orc8r-ns/orc8r-controller, IngressRoute orc8r-ns/orc8r-rpc, IngressRouteUDP orc8r-ns/orc8r-stats in cloud")

	req.Routes = nil
	check(Wait, "cloud's build has no Traefik route to orc8r-ns/orc8r yet")
}
