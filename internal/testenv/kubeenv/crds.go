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
	crds, err := readCRDs(t.Context(), t.TempDir(), bootstrapCRDSources())
	if err == nil {
		err = installCRDs(t.Context(), c, crds)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// upstreamCRDs reads the CRDs of crdSources from the module cache, downloading the
// modules when needed. work is an empty folder to run the go command in, outside any
// module.
func upstreamCRDs(ctx context.Context, work string) ([]*unstructured.Unstructured, error) {
	return readCRDs(ctx, work, crdSources())
}

func readCRDs(ctx context.Context, work string, sources []crdSource) ([]*unstructured.Unstructured, error) {
	var crds []*unstructured.Unstructured
	for _, src := range sources {
		dir, err := moduleDir(ctx, work, src.module+"@"+src.version)
		if err != nil {
			return nil, err
		}
		for _, f := range src.files {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return nil, fmt.Errorf("CRDs of %s@%s: %w", src.module, src.version, err)
			}
			objs, err := ParseYAML(data)
			if err != nil {
				return nil, fmt.Errorf("CRDs of %s@%s, %s: %w", src.module, src.version, f, err)
			}
			for _, o := range objs {
				if o.GetKind() != "CustomResourceDefinition" {
					return nil, fmt.Errorf("CRDs of %s@%s, %s: %s %s is not a CustomResourceDefinition", src.module, src.version, f, o.GetKind(), o.GetName())
				}
			}
			crds = append(crds, objs...)
		}
	}
	return crds, nil
}

// moduleDir returns the folder of a module version in the module cache, as
// `go mod download -json` reports it.
func moduleDir(ctx context.Context, work, moduleVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", moduleVersion)
	cmd.Dir = work
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

// installCRDs applies the CRDs, waits until the API server serves every one of them,
// and resets the cluster's mapper so that it sees their kinds.
func installCRDs(ctx context.Context, c *Cluster, crds []*unstructured.Unstructured) error {
	if err := c.Applier("kubeenv").Apply(ctx, crds); err != nil {
		return fmt.Errorf("cluster %s: installing CRDs: %w", c.Name, err)
	}
	deadline := time.Now().Add(startTimeout)
	for _, crd := range crds {
		for {
			live, err := c.Dynamic.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err == nil && established(live) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("cluster %s: CRD %s not Established after %s (%v)", c.Name, crd.GetName(), startTimeout, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	c.Mapper.Reset()
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
