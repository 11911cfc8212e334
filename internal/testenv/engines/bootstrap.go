package engines

import (
	"context"
	"fmt"
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

// now is the value of the annotations that ask a controller to act at once.
func now() string {
	return time.Now().UTC().Format(time.RFC3339Nano)
}
