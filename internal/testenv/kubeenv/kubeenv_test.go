package kubeenv

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

// TestKubernetesVersion checks that Binary looks for the version hack/kube builds.
func TestKubernetesVersion(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "hack", "kube", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?k8s\.io/kubernetes (v\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("hack/kube/go.mod does not require k8s.io/kubernetes")
	}
	if string(m[1]) != KubernetesVersion {
		t.Errorf("hack/kube/go.mod requires k8s.io/kubernetes %s, KubernetesVersion is %s: make them agree", m[1], KubernetesVersion)
	}
}

const inventory = "test"

// TestApplyPrune starts one API server and checks what the end-to-end tests rely on:
// the upstream kinds are served, the kubeconfig file works with its CA data alone,
// Apply orders objects by dependency, the API server's validation reaches the caller,
// and ApplyPrune deletes what left the inventory and nothing else.
func TestApplyPrune(t *testing.T) {
	env := Start(t, "one")
	c := env.Cluster("one")
	ctx := t.Context()

	for _, gk := range []schema.GroupKind{
		{Group: "traefik.io", Kind: "IngressRoute"},
		{Group: "traefik.io", Kind: "Middleware"},
		{Group: "argoproj.io", Kind: "Application"},
		{Group: "argoproj.io", Kind: "AppProject"},
		{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization"},
		{Group: "externaldns.k8s.io", Kind: "DNSEndpoint"},
	} {
		if _, err := c.Mapper.RESTMapping(gk); err != nil {
			t.Errorf("%s is not served: %v", gk, err)
		}
	}

	fromFile, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Insecure || len(fromFile.CAData) == 0 {
		t.Errorf("kubeconfig: insecure %v, %d bytes of CA data; want the serving CA", fromFile.Insecure, len(fromFile.CAData))
	}
	client, err := dynamic.NewForConfig(fromFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Errorf("with the kubeconfig file: %v", err)
	}

	// Objects not applied through the inventory, which pruning must leave alone.
	foreign := mustParse(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: foreign, namespace: default}
`)
	if err := c.Applier("someone-else").Apply(ctx, foreign); err != nil {
		t.Fatal(err)
	}

	a := c.Applier("kubeenv-test")
	// Listed in the reverse of the order they can be created in.
	first := mustParse(t, `
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: web, namespace: shop}
spec:
  entryPoints: [web]
  routes:
  - kind: Rule
    match: Host(`+"`shop`"+`)
    services: [{kind: Service, name: shop, port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: shop}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
`)
	pruned, err := a.ApplyPrune(ctx, inventory, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 0 {
		t.Errorf("first ApplyPrune pruned %v", pruned)
	}
	before, err := c.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Namespace shop", "ConfigMap shop/a", "ConfigMap shop/b", "Service shop/shop",
		"IngressRoute.traefik.io shop/web", "ConfigMap default/foreign", "ConfigMap kube-system/" + inventory} {
		if !slices.ContainsFunc(before, func(r ObjectRef) bool { return r.String() == want }) {
			t.Errorf("after the first ApplyPrune, no %s", want)
		}
	}

	// The API server refuses an ExternalName Service that keeps a cluster IP; the
	// error names the field.
	bad := mustParse(t, `
apiVersion: v1
kind: Service
metadata: {name: bad, namespace: shop}
spec: {type: ExternalName, externalName: example.internal, clusterIP: 10.96.0.99}
`)
	err = a.Apply(ctx, bad)
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.clusterIPs: Forbidden: may not be set for ExternalName services") {
		t.Errorf("applying an ExternalName Service with a cluster IP: %v; want Invalid on spec.clusterIPs", err)
	}

	// b and the route leave the set, c joins it.
	second := mustParse(t, `
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: shop}
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: shop}
`)
	pruned, err = a.ApplyPrune(ctx, inventory, second)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refStrings(pruned), "IngressRoute.traefik.io shop/web, ConfigMap shop/b"; got != want {
		t.Errorf("pruned %s, want %s", got, want)
	}
	after, err := c.Objects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Diff(after, before), "+ ConfigMap shop/c\n- ConfigMap shop/b\n- IngressRoute.traefik.io shop/web"; got != want {
		t.Errorf("objects after pruning, compared with before (+ new, - gone):\n%s\nwant:\n%s", got, want)
	}

	// The same set again prunes nothing.
	if pruned, err := a.ApplyPrune(ctx, inventory, second); err != nil || len(pruned) != 0 {
		t.Errorf("ApplyPrune of the same set: pruned %v, %v", pruned, err)
	}
}

func mustParse(t *testing.T, yml string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := ParseYAML([]byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func refStrings(refs []ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
