package engines

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// FluxNamespace is where the project's flux/ bootstrap puts its objects.
const FluxNamespace = "flux-system"

var (
	// GitRepositoryResource is Flux's GitRepository.
	GitRepositoryResource = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizationResource = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// FluxOptions says how to run Flux.
type FluxOptions struct {
	// Bootstrap is the project's flux/ folder.
	Bootstrap string
	// RepoURL replaces the GitRepository's URL.
	RepoURL string
	// Clusters are the clusters the Kustomizations apply to; each gets the Secret
	// <name>-kubeconfig that the bootstrap names.
	Clusters []*kubeenv.Cluster
	// Receiver, when set, asks source-controller to fetch the repository on every push,
	// as the webhook Receiver docs/adopting.md recommends; otherwise it fetches at the
	// GitRepository's interval.
	Receiver *GitServer
}

// Flux is source-controller and kustomize-controller running on a management cluster.
type Flux struct {
	Namespace string
	Mgmt      *kubeenv.Cluster
}

// StartFlux installs source-controller's CRDs on mgmt (kubeenv has installed the
// Kustomization's), applies the bootstrap with the repository URL and the clusters'
// kubeconfig Secrets, starts both controllers and returns once every Kustomization is
// Ready. Everything stops when the test ends.
func StartFlux(t testing.TB, mgmt *kubeenv.Cluster, opts FluxOptions) *Flux {
	t.Helper()
	sourceController := tool(t, "flux", FluxVersion, "source-controller")
	kustomizeController := tool(t, "flux", FluxVersion, "kustomize-controller")
	ctx := t.Context()
	dir := filepath.Join(mgmt.Dir, "flux")
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o700); err != nil {
		t.Fatal(err)
	}

	var files []string
	for _, kind := range []string{"gitrepositories", "buckets", "helmrepositories", "helmcharts", "ocirepositories", "externalartifacts"} {
		files = append(files, "config/crd/bases/source.toolkit.fluxcd.io_"+kind+".yaml")
	}
	crds, err := kubeenv.ModuleCRDs(ctx, "github.com/fluxcd/source-controller@"+FluxVersion, files...)
	if err != nil {
		t.Fatalf("source-controller's CRDs: %v", err)
	}
	if err := kubeenv.InstallCRDs(ctx, mgmt, crds); err != nil {
		t.Fatal(err)
	}
	apply := mgmt.Applier(fieldManager)
	if err := createNamespace(ctx, mgmt, FluxNamespace); err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, c := range opts.Clusters {
		data, err := os.ReadFile(c.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, secret(FluxNamespace, c.Name+"-kubeconfig", nil, map[string]any{"value": string(data)}))
	}
	boot, err := build(opts.Bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	var kustomizations []string
	for _, obj := range boot {
		switch obj.GetKind() {
		case "GitRepository":
			if err := unstructured.SetNestedField(obj.Object, opts.RepoURL, "spec", "url"); err != nil {
				t.Fatal(err)
			}
		case "Kustomization":
			kustomizations = append(kustomizations, obj.GetName())
		}
		objs = append(objs, obj)
	}
	if err := apply.Apply(ctx, objs); err != nil {
		t.Fatalf("applying %s: %v", opts.Bootstrap, err)
	}

	ports, err := kubeenv.FreePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"KUBECONFIG=" + mgmt.Kubeconfig, "RUNTIME_NAMESPACE=" + FluxNamespace}
	storage := fmt.Sprintf("127.0.0.1:%d", ports[0])
	sc, err := kubeenv.StartProcess(t, "source-controller", filepath.Join(dir, "source-controller.log"), env, sourceController,
		"--storage-path="+filepath.Join(dir, "storage"),
		"--storage-addr="+storage, "--storage-adv-addr="+storage,
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[2]),
		"--enable-leader-election=false",
		"--log-level=info",
	)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kubeenv.StartProcess(t, "kustomize-controller", filepath.Join(dir, "kustomize-controller.log"), env, kustomizeController,
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[3]),
		fmt.Sprintf("--health-addr=127.0.0.1:%d", ports[4]),
		"--enable-leader-election=false",
		// A step whose workload never gets healthy (the rollback scenario) would
		// otherwise hold the Kustomization in its health check for the whole
		// spec.timeout, and the rollback commit would wait behind it.
		"--feature-gates=CancelHealthCheckOnNewRevision=true",
		"--log-level=info",
	)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range []*kubeenv.Process{sc, kc} {
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2+2*i])
		if err := p.WaitFor(readyTimeout, "ready answer on "+url, func() error { return kubeenv.HTTPOK(http.DefaultClient, url) }); err != nil {
			t.Fatal(err)
		}
	}
	f := &Flux{Namespace: FluxNamespace, Mgmt: mgmt}
	if opts.Receiver != nil {
		opts.Receiver.OnPush(func() {
			// A failed request only means the next fetch comes at the interval.
			_ = f.RequestFetch(context.Background())
		})
	}
	for _, name := range kustomizations {
		err := kc.WaitFor(readyTimeout, "Kustomization "+name+" Ready", func() error {
			ks, err := mgmt.Dynamic.Resource(kustomizationResource).Namespace(FluxNamespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			return conditionTrue(ks, "Ready")
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// RequestFetch asks source-controller to fetch every GitRepository now, as Flux's
// notification-controller does for a Receiver's webhook.
func (f *Flux) RequestFetch(ctx context.Context) error {
	repos, err := f.Mgmt.Dynamic.Resource(GitRepositoryResource).Namespace(f.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, now())
	for _, r := range repos.Items {
		if _, err := f.Mgmt.Dynamic.Resource(GitRepositoryResource).Namespace(f.Namespace).Patch(ctx, r.GetName(), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// conditionTrue returns nil when the object's condition of that type is True, else
// what it says.
func conditionTrue(obj *unstructured.Unstructured, typ string) error {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			if m["status"] == "True" {
				return nil
			}
			return fmt.Errorf("%s %s: %v %v: %v", obj.GetName(), typ, m["status"], m["reason"], m["message"])
		}
	}
	return fmt.Errorf("%s has no %s condition yet", obj.GetName(), typ)
}
