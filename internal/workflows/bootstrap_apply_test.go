package workflows

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// TestBootstrapAppliesToARealAPIServer server-side dry-runs the argocd/ and flux/
// folders, as `kubectl apply -k` would send them, against a real kube-apiserver with
// the upstream CRDs: every field must pass the CRDs' schemas.
func TestBootstrapAppliesToARealAPIServer(t *testing.T) {
	env := kubeenv.Start(t, "mgmt")
	mgmt := env.Cluster("mgmt")
	kubeenv.InstallBootstrapCRDs(t, mgmt)
	repo, _ := rootRepo(t, "")
	for dir, namespace := range map[string]string{"argocd": "argocd", "flux": "flux-system"} {
		yaml, err := fleet.NewBuilder(nil, 1).BuildYAML(repo, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(yaml) == 0 {
			t.Fatalf("%s/ builds to nothing", dir)
		}
		// A dry run still needs the namespace to exist, as an install would create it.
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": namespace}}}
		if err := mgmt.Applier("bootstrap").Apply(t.Context(), []*unstructured.Unstructured{ns}); err != nil {
			t.Fatal(err)
		}
		objs, err := kubeenv.ParseYAML(yaml)
		if err != nil {
			t.Fatal(err)
		}
		dry := mgmt.Applier("bootstrap")
		dry.DryRun = true
		if err := dry.Apply(t.Context(), objs); err != nil {
			t.Errorf("%s/ does not apply: %v", dir, err)
		}
	}
}
