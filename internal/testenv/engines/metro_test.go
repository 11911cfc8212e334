package engines_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops/record"
)

func TestMetroWithArgoCD(t *testing.T)           { testMetro(t, config.EngineArgoCD) }
func TestMetroWithFlux(t *testing.T)             { testMetro(t, config.EngineFlux) }
func TestMetroHandRevertWithArgoCD(t *testing.T) { testMetroHandRevert(t, config.EngineArgoCD) }
func TestMetroHandRevertWithFlux(t *testing.T)   { testMetroHandRevert(t, config.EngineFlux) }

// sessiondToWest is the metro fleet's move: metro-west's overlay is at
// overlays/metro/west, not clusters/<name>.
var sessiondToWest = move{app: workload{namespace: "sessions", name: "sessiond", selector: "app=sessiond"}, from: "metro-east", to: "metro-west"}

// newMetro runs the render tests' metro fleet, a second fleet unlike the example: four
// sites, one overlay outside clusters/, gitops.dns externaldns. Its metrics are calm,
// so gitmig plans nothing: sessiond moves by hand, within policy. The fleet's team
// bootstraps its engine from its own folder (testdata/metro).
func newMetro(t *testing.T, engine string) *scenario {
	metrics, err := os.ReadFile(filepath.Join("testdata", "metro", "metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return newScenario(t, engine, setup{
		files:     os.DirFS(filepath.Join("..", "..", "render", "testdata", "fleets", "metro")),
		bootstrap: filepath.Join("testdata", "metro", engine),
		metrics:   metrics,
		moving:    []string{"sessions"},
	})
}

// testMetroHandRevert is testHandRevert on the metro fleet.
func testMetroHandRevert(t *testing.T, engine string) {
	newMetro(t, engine).handRevert(sessiondToWest, true)
}

// testMetro moves sessiond to metro-west. sessiond speaks gRPC and HTTP, Diameter over
// TCP and RADIUS over UDP, so step 2 writes two IngressRoutes, an IngressRouteTCP and
// an IngressRouteUDP in west's overlay; and west reaches sessiond's dependency,
// subscriberdb in the core, only through the ExternalName step 1 writes there.
func testMetro(t *testing.T, engine string) {
	s := newMetro(t, engine)
	baseline := s.fingerprints()
	s.Reconcile()
	if err := s.migrateByHand(sessiondToWest, false); err != nil {
		t.Fatalf("gitmig migrate sessiond --to metro-west: %v", err)
	}
	s.mergeSteps(sessiondToWest, 4)
	s.WaitForPhase(record.Completed)

	if err := s.Eventually(time.Minute, func() error { return s.available(sessiondToWest.app, "metro-west") }); err != nil {
		t.Errorf("sessiond in metro-west: %v", err)
	}
	for _, r := range []route{{ingressRoutes, "sessiond-grpc"}, {ingressRoutes, "sessiond-http"}, {ingressRouteTCPs, "sessiond-gx"}, {ingressRouteUDPs, "sessiond-radius-acct"}} {
		if s.get("metro-west", r.res, "sessions", r.name) == nil {
			t.Errorf("no %s sessions/%s in metro-west", r.res.Resource, r.name)
		}
	}
	for _, want := range []struct{ cluster, namespace, name, externalName string }{
		{"metro-west", "subscribers", "subscriberdb", "core.metro.example.net"},
		{"metro-east", "sessions", "sessiond", "west.metro.example.net"},
	} {
		svc := s.get(want.cluster, services, want.namespace, want.name)
		if svc == nil {
			t.Errorf("no Service %s/%s in %s", want.namespace, want.name, want.cluster)
			continue
		}
		if name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName"); name != want.externalName {
			t.Errorf("%s's Service %s/%s leads to %q, want %q", want.cluster, want.namespace, want.name, name, want.externalName)
		}
	}
	if s.get("metro-east", deployments, "sessions", "sessiond") != nil {
		t.Error("Deployment sessiond still in metro-east")
	}
	// metro-west gains sessiond's Namespace, its routes and the stub to subscriberdb;
	// elsewhere only sessiond's own objects change.
	if diff := diffFingerprints(baseline, s.fingerprints(), "metro-west"); diff != "" {
		t.Errorf("objects outside Namespace sessions changed:\n%s", diff)
	}
}
