package engines

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// fieldManager owns what the harness applies.
const fieldManager = "gitmig-engines"

var (
	namespaceResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	secretResource    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
)

// build is `kubectl apply -k dir` without the apply: the kustomize build of a
// bootstrap folder of the project.
func build(dir string) ([]*unstructured.Unstructured, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	data, err := res.AsYaml()
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	return kubeenv.ParseYAML(data)
}

// moduleDir returns the folder of a module version in the module cache, downloading
// it when needed, as `go mod download -json` reports it.
func moduleDir(ctx context.Context, moduleVersion string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", moduleVersion)
	// Outside any module, so that the main module's go.mod plays no part.
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
	}
	return info.Dir, nil
}

// readManifests parses YAML files of a folder.
func readManifests(dir string, files ...string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		parsed, err := kubeenv.ParseYAML(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		objs = append(objs, parsed...)
	}
	return objs, nil
}

// createNamespace creates a namespace unless it exists.
func createNamespace(ctx context.Context, c *kubeenv.Cluster, name string) error {
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	_, err := c.Dynamic.Resource(namespaceResource).Create(ctx, ns, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// secret is a Secret with string data.
func secret(namespace, name string, labels map[string]any, data map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name, "namespace": namespace}
	if labels != nil {
		meta["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "stringData": data,
	}}
}

// kubeconfigInNamespace writes a copy of a cluster's kubeconfig whose context
// defaults to namespace, for the programs that take their namespace from it.
func kubeconfigInNamespace(c *kubeenv.Cluster, namespace, path string) error {
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	for _, ctx := range cfg.Contexts {
		ctx.Namespace = namespace
	}
	return clientcmd.WriteToFile(*cfg, path)
}

// served waits until the cluster's discovery serves every kind, which lags a little
// behind the creation of a CRD.
func served(ctx context.Context, c *kubeenv.Cluster, kinds ...schema.GroupVersionKind) error {
	return waitUntil(ctx, readyTimeout, "kinds served", func() error {
		for _, gvk := range kinds {
			if _, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				c.Mapper.Reset()
				return err
			}
		}
		return nil
	})
}

// now is the value of the annotations that ask a controller to act at once.
func now() string {
	return time.Now().UTC().Format(time.RFC3339Nano)
}
