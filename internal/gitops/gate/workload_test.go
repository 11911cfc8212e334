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

// A client-only workload has no route to wait for after step 2 and no Service to see
// flipped after step 3; its Deployment is still waited for after step 1, on a real API
// server.
func TestWorkloadsClientOnly(t *testing.T) {
	env := kubeenv.Start(t, "edge", "cloud")
	w := Workloads{Clients: map[string]dynamic.Interface{"edge": env.Cluster("edge").Dynamic, "cloud": env.Cluster("cloud").Dynamic}}
	for _, c := range []struct {
		step    int
		verdict Verdict
		reason  string
	}{
		{1, Wait, "Deployment orc8r-ns/orc8r is not in cloud yet"},
		{2, Pass, "orc8r has no Service: step 2 changes nothing in cloud"},
		{3, Pass, "orc8r has no Service: step 3 changes nothing in edge"},
	} {
		req := request(c.step)
		req.ClientOnly = true
		res, err := w.Check(t.Context(), req)
		if err != nil || res.Verdict != c.verdict || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("step %d: Check = %+v, %v; want %s saying %q", c.step, res, err, c.verdict, c.reason)
		}
	}
}
