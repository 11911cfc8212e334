package workflows

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/testenv/engines"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// deploy/ builds with kustomize and applies to a real kube-apiserver, every field
// checked by the server, the ServiceMonitor against the Prometheus Operator's CRD
// (generated from its API module by hack/crds/build.sh) and against the Service it
// scrapes. Its RBAC grants what serve uses and nothing more.
func TestDeployAppliesToARealAPIServer(t *testing.T) {
	repo, _ := rootRepo(t, "")
	yaml, err := fleet.NewBuilder(nil, 1).BuildYAML(repo, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kubeenv.ParseYAML(yaml)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]*unstructured.Unstructured{}
	for _, o := range objs {
		byKind[o.GetKind()] = append(byKind[o.GetKind()], o)
	}
	crdFile := engines.CachedTool(t, "hack/crds/build.sh", "prometheus-operator-crds", prometheusOperatorVersion(t), "monitoring.coreos.com_servicemonitors.yaml")
	crdYAML, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	crds, err := kubeenv.ParseYAML(crdYAML)
	if err != nil {
		t.Fatalf("%s: %v", crdFile, err)
	}

	env := kubeenv.Start(t, "mgmt")
	mgmt := env.Cluster("mgmt")
	if err := kubeenv.InstallCRDs(t.Context(), mgmt, crds); err != nil {
		t.Fatal(err)
	}
	// The engines' namespaces exist where gitmig is installed.
	var namespaces []*unstructured.Unstructured
	for _, name := range []string{"argocd", "flux-system"} {
		namespaces = append(namespaces, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}})
	}
	if err := mgmt.Applier("deploy").Apply(t.Context(), namespaces); err != nil {
		t.Fatal(err)
	}
	if err := mgmt.Applier("deploy").Apply(t.Context(), objs); err != nil {
		t.Fatalf("deploy/ does not apply: %v", err)
	}

	if len(byKind["Deployment"]) != 1 || len(byKind["Service"]) != 1 || len(byKind["ServiceMonitor"]) != 1 {
		t.Fatalf("deploy/ holds %v", byKind)
	}
	d := byKind["Deployment"][0]
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	for _, want := range []string{"serve", "--leader-elect", "--listen=:8080"} {
		if !slices.Contains(args, want) {
			t.Errorf("gitmig runs %v, without %s", args, want)
		}
	}
	for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if got, _, _ := unstructured.NestedString(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s on %q, want %s", probe, got, path)
		}
	}

	svc, sm := byKind["Service"][0], byKind["ServiceMonitor"][0]
	svcLabels := svc.GetLabels()
	selector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range selector {
		if svcLabels[k] != v {
			t.Errorf("the ServiceMonitor selects %v, the Service is labelled %v", selector, svcLabels)
		}
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(endpoints) != 1 || endpoints[0].(map[string]any)["port"] != ports[0].(map[string]any)["name"] || endpoints[0].(map[string]any)["path"] != "/metrics" {
		t.Errorf("the ServiceMonitor scrapes %v, the Service serves %v", endpoints, ports)
	}

	want := map[string][]string{
		"gitmig/gitmig-leader-election": {"coordination.k8s.io", "leases", "get", "create", "update"},
		"argocd/gitmig":                 {"argoproj.io", "applications", "get", "list", "watch", "patch"},
		"flux-system/gitmig":            {"kustomize.toolkit.fluxcd.io", "kustomizations", "get", "list", "watch", "patch"},
	}
	for _, role := range byKind["Role"] {
		key := role.GetNamespace() + "/" + role.GetName()
		rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
		var got []string
		for _, r := range rules {
			m := r.(map[string]any)
			for _, field := range []string{"apiGroups", "resources", "verbs"} {
				for _, v := range m[field].([]any) {
					got = append(got, v.(string))
				}
			}
		}
		if !slices.Equal(got, want[key]) {
			t.Errorf("Role %s grants %v, want %v", key, got, want[key])
		}
		delete(want, key)
	}
	if len(want) != 0 {
		t.Errorf("no Role %v", want)
	}
	if len(byKind["ClusterRole"]) != 0 {
		t.Error("deploy/ grants cluster-wide access")
	}
}

// prometheusOperatorVersion is the version of the Prometheus Operator's API module that
// hack/crds/build.sh generates the CRDs from, as its go.mod pins it.
func prometheusOperatorVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "hack", "crds", "prometheus-operator", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring (v\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("hack/crds/prometheus-operator/go.mod does not require the Prometheus Operator's API module")
	}
	return string(m[1])
}
