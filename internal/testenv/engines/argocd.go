package engines

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"text/template"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// ArgoCDNamespace is where the project's argocd/ bootstrap puts its objects.
const ArgoCDNamespace = "argocd"

var applicationResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// ArgoCDOptions says how to run Argo CD.
type ArgoCDOptions struct {
	// Bootstrap is the project's argocd/ folder.
	Bootstrap string
	// RepoURL replaces the repository of the AppProject and the Applications.
	RepoURL string
	// Clusters are registered as Argo CD cluster Secrets named after them, the
	// destinations the bootstrap names.
	Clusters []*kubeenv.Cluster
	// AllowEmpty sets syncPolicy.automated.allowEmpty on the Applications. Without
	// it Argo CD's automated sync refuses a revision that leaves a cluster's overlay
	// empty ("auto-sync will wipe out all resources"), such as the rollback of the
	// only service moved to an empty cluster.
	AllowEmpty bool
}

// ArgoCD is Argo CD's repo-server and application-controller, with their redis,
// running on a management cluster.
type ArgoCD struct {
	Namespace string
	// Applications are the names of the Applications the bootstrap made.
	Applications []string
}

// StartArgoCD applies the settings Argo CD reads (the bootstrap's argocd-cm, and
// argocd-rbac-cm, argocd-cmd-params-cm and argocd-secret), a cluster Secret per
// cluster, the bootstrap's AppProject and, in place of the ApplicationSet controller,
// the Applications its list generator makes; then starts redis-server, the repo-server
// and the application-controller, and returns once every Application is Synced and
// Healthy. kubeenv has installed the Application and AppProject CRDs. Everything stops
// when the test ends.
func StartArgoCD(t testing.TB, mgmt *kubeenv.Cluster, opts ArgoCDOptions) *ArgoCD {
	t.Helper()
	argocd := tool(t, "argocd", ArgoCDVersion, "argocd")
	kustomize := tool(t, "kustomize", KustomizeVersion, "kustomize")
	redis := Command(t, "redis-server", "install Debian's redis-server (`apt-get install redis-server`)")
	Command(t, "git", "install git")
	ctx := t.Context()
	dir := filepath.Join(mgmt.Dir, "argocd")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := createNamespace(ctx, mgmt, ArgoCDNamespace); err != nil {
		t.Fatal(err)
	}

	partOf := map[string]any{"app.kubernetes.io/part-of": "argocd"}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	objs := []*unstructured.Unstructured{
		configMap("argocd-rbac-cm", partOf),
		configMap("argocd-cmd-params-cm", partOf),
		secret(ArgoCDNamespace, "argocd-secret", partOf, map[string]any{"server.secretkey": hex.EncodeToString(key)}),
	}
	for _, c := range opts.Clusters {
		config, err := json.Marshal(map[string]any{
			"bearerToken":     c.Config.BearerToken,
			"tlsClientConfig": map[string]any{"caData": base64.StdEncoding.EncodeToString(c.Config.CAData)},
		})
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, secret(ArgoCDNamespace, "cluster-"+c.Name,
			map[string]any{"argocd.argoproj.io/secret-type": "cluster"},
			map[string]any{"name": c.Name, "server": c.URL, "config": string(config)}))
	}
	boot, err := build(opts.Bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	a := &ArgoCD{Namespace: ArgoCDNamespace}
	for _, obj := range boot {
		switch obj.GetKind() {
		case "AppProject":
			if err := unstructured.SetNestedStringSlice(obj.Object, []string{opts.RepoURL}, "spec", "sourceRepos"); err != nil {
				t.Fatal(err)
			}
			objs = append(objs, obj)
		case "ApplicationSet":
			apps, err := generateApplications(obj, opts.RepoURL)
			if err != nil {
				t.Fatalf("%s: ApplicationSet %s: %v", opts.Bootstrap, obj.GetName(), err)
			}
			for _, app := range apps {
				a.Applications = append(a.Applications, app.GetName())
				if opts.AllowEmpty {
					if err := unstructured.SetNestedField(app.Object, true, "spec", "syncPolicy", "automated", "allowEmpty"); err != nil {
						t.Fatal(err)
					}
				}
			}
			objs = append(objs, apps...)
		default:
			objs = append(objs, obj)
		}
	}

	ports, err := kubeenv.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	redisAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	redisProc, err := kubeenv.StartProcess(t, "redis-server", filepath.Join(dir, "redis.log"), nil, redis,
		"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := redisProc.WaitFor(readyTimeout, "redis listening", func() error { return kubeenv.Listening(redisAddr) }); err != nil {
		t.Fatal(err)
	}

	repoServerAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	env := []string{
		"ARGOCD_GPG_ENABLED=false",
		// The repo-server runs kustomize and git from PATH, and keeps its clones
		// under the temporary folder.
		"PATH=" + filepath.Dir(kustomize) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
	}
	repoServer, err := kubeenv.StartProcess(t, "argocd-repo-server", filepath.Join(dir, "repo-server.log"),
		append(env, "ARGOCD_BINARY_NAME=argocd-repo-server"), argocd,
		"--address=127.0.0.1", "--port="+strconv.Itoa(ports[1]),
		"--metrics-address=127.0.0.1", "--metrics-port="+strconv.Itoa(ports[2]),
		"--redis="+redisAddr, "--disable-tls", "--loglevel=info",
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := repoServer.WaitFor(readyTimeout, "repo-server listening", func() error { return kubeenv.Listening(repoServerAddr) }); err != nil {
		t.Fatal(err)
	}
	// The settings go in before the controller starts, which reads them once.
	if err := mgmt.Applier(fieldManager).Apply(ctx, objs); err != nil {
		t.Fatalf("applying Argo CD's settings and %s: %v", opts.Bootstrap, err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := kubeconfigInNamespace(mgmt, ArgoCDNamespace, kubeconfig); err != nil {
		t.Fatal(err)
	}
	controller, err := kubeenv.StartProcess(t, "argocd-application-controller", filepath.Join(dir, "application-controller.log"),
		append(env, "ARGOCD_BINARY_NAME=argocd-application-controller"), argocd,
		"--kubeconfig="+kubeconfig,
		"--repo-server="+repoServerAddr, "--repo-server-plaintext",
		"--redis="+redisAddr,
		"--metrics-port="+strconv.Itoa(ports[3]),
		"--loglevel=info",
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range a.Applications {
		err := controller.WaitFor(readyTimeout, "Application "+name+" Synced and Healthy", func() error {
			app, err := mgmt.Dynamic.Resource(applicationResource).Namespace(ArgoCDNamespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
			health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
			if sync != "Synced" || health != "Healthy" {
				conditions, _, _ := unstructured.NestedSlice(app.Object, "status", "conditions")
				return fmt.Errorf("Application %s is %q and %q %v", name, sync, health, conditions)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func configMap(name string, labels map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ArgoCDNamespace, "labels": labels},
	}}
}

// generateApplications makes the Applications of an ApplicationSet with a list
// generator, as the ApplicationSet controller would with goTemplate and
// missingkey=error, their source pointed at repoURL.
func generateApplications(appSet *unstructured.Unstructured, repoURL string) ([]*unstructured.Unstructured, error) {
	generators, _, _ := unstructured.NestedSlice(appSet.Object, "spec", "generators")
	tmpl, found, _ := unstructured.NestedMap(appSet.Object, "spec", "template")
	if len(generators) != 1 || !found {
		return nil, fmt.Errorf("want one generator and a template")
	}
	elements, found, _ := unstructured.NestedSlice(generators[0].(map[string]any), "list", "elements")
	if !found {
		return nil, fmt.Errorf("only a list generator is supported here")
	}
	text, err := json.Marshal(tmpl)
	if err != nil {
		return nil, err
	}
	parsed, err := template.New(appSet.GetName()).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var apps []*unstructured.Unstructured
	for _, e := range elements {
		var out bytes.Buffer
		if err := parsed.Execute(&out, e); err != nil {
			return nil, err
		}
		var app map[string]any
		if err := json.Unmarshal(out.Bytes(), &app); err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{Object: app}
		obj.SetAPIVersion("argoproj.io/v1alpha1")
		obj.SetKind("Application")
		obj.SetNamespace(appSet.GetNamespace())
		if err := unstructured.SetNestedField(obj.Object, repoURL, "spec", "source", "repoURL"); err != nil {
			return nil, err
		}
		apps = append(apps, obj)
	}
	return apps, nil
}
