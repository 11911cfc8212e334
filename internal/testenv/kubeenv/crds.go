package kubeenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// crdSource is a set of CRD manifests in an upstream project's Go module.
type crdSource struct {
	module, version string
	files           []string
}

// crdSources are the CRDs of the tools gitmig writes objects for, or reads status from,
// at the versions the project targets: read from the projects' own modules, so they
// are exactly what those releases install.
func crdSources() []crdSource {
	return []crdSource{
		// IngressRoute and the rest of the traefik.io group, as Traefik's docs ship them.
		{"github.com/traefik/traefik/v3", "v3.7.13", []string{"docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"}},
		{"github.com/argoproj/argo-cd/v3", "v3.5.0", []string{"manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml"}},
		{"github.com/fluxcd/kustomize-controller", "v1.9.0", []string{"config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml"}},
		{"sigs.k8s.io/external-dns", "v0.20.0", []string{"config/crd/standard/dnsendpoints.externaldns.k8s.io.yaml"}},
	}
}

// bootstrapCRDSources are the CRDs of the engines' own bootstrap objects: Argo CD's
// ApplicationSet (1.4 MB, so not installed everywhere by Start) and Flux's
// GitRepository.
func bootstrapCRDSources() []crdSource {
	return []crdSource{
		{"github.com/argoproj/argo-cd/v3", "v3.5.0", []string{"manifests/crds/applicationset-crd.yaml"}},
		{"github.com/fluxcd/source-controller", "v1.9.0", []string{"config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml"}},
	}
}

// InstallBootstrapCRDs installs in one cluster the CRDs the argocd/ and flux/
// bootstrap folders need beyond those Start installs.
func InstallBootstrapCRDs(t testing.TB, c *Cluster) {
	t.Helper()
	crds, err := readCRDs(t.Context(), bootstrapCRDSources())
	if err == nil {
		err = InstallCRDs(t.Context(), c, crds)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// upstreamCRDs reads the CRDs of crdSources from the module cache, downloading the
// modules when needed.
func upstreamCRDs(ctx context.Context) ([]*unstructured.Unstructured, error) {
	return readCRDs(ctx, crdSources())
}

func readCRDs(ctx context.Context, sources []crdSource) ([]*unstructured.Unstructured, error) {
	var crds []*unstructured.Unstructured
	for _, src := range sources {
		objs, err := ModuleCRDs(ctx, src.module+"@"+src.version, src.files...)
		if err != nil {
			return nil, err
		}
		crds = append(crds, objs...)
	}
	return crds, nil
}

// ModuleCRDs reads the CRDs in files of a module version (module@version), downloading
// it when needed; any other kind in them is an error.
func ModuleCRDs(ctx context.Context, moduleVersion string, files ...string) ([]*unstructured.Unstructured, error) {
	dir, err := ModuleDir(ctx, moduleVersion)
	if err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("CRDs of %s: %w", moduleVersion, err)
		}
		objs, err := ParseYAML(data)
		if err != nil {
			return nil, fmt.Errorf("CRDs of %s, %s: %w", moduleVersion, f, err)
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("CRDs of %s, %s: %s %s is not a CustomResourceDefinition", moduleVersion, f, o.GetKind(), o.GetName())
			}
		}
		crds = append(crds, objs...)
	}
	return crds, nil
}

// ModuleDir returns the folder of a module version (module@version) in the module
// cache, downloading it when needed, as `go mod download -json` reports it.
func ModuleDir(ctx context.Context, moduleVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", moduleVersion)
	// Outside any module, so that no go.mod plays a part.
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(out, &info); jsonErr != nil && err == nil {
		err = jsonErr
	}
	switch {
	case info.Error != "":
		return "", fmt.Errorf("go mod download %s: %s", moduleVersion, info.Error)
	case err != nil:
		return "", fmt.Errorf("go mod download %s: %w: %s", moduleVersion, err, stderr.Bytes())
	case info.Dir == "":
		return "", fmt.Errorf("go mod download %s: no folder in %s", moduleVersion, out)
	}
	return info.Dir, nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs applies the CRDs in c and returns once the API server serves every one
// of them and the cluster's mapper knows their kinds.
func InstallCRDs(ctx context.Context, c *Cluster, crds []*unstructured.Unstructured) error {
	if err := c.Applier("kubeenv").Apply(ctx, crds); err != nil {
		return fmt.Errorf("cluster %s: installing CRDs: %w", c.Name, err)
	}
	crdClient := c.Dynamic.Resource(crdResource)
	err := Poll(ctx, 100*time.Millisecond, startTimeout, "CRDs established and served", func() error {
		for _, crd := range crds {
			live, err := crdClient.Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !established(live) {
				return fmt.Errorf("CRD %s not Established", crd.GetName())
			}
			// Discovery lags a little behind Established.
			group, _, _ := unstructured.NestedString(live.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(live.Object, "spec", "names", "kind")
			if _, err := c.Mapper.RESTMapping(schema.GroupKind{Group: group, Kind: kind}); err != nil {
				c.Mapper.Reset()
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// established reports whether a CRD's Established condition is True.
func established(crd *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conditions {
		cond, _ := c.(map[string]any)
		if cond["type"] == "Established" && cond["status"] == "True" {
			return true
		}
	}
	return false
}
