package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/step"
)

var (
	deploymentResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	podResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	serviceResource    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
)

// routeResource is the resource of a kind of Traefik route.
func routeResource(kind string) (schema.GroupVersionResource, bool) {
	switch kind {
	case "IngressRoute", "IngressRouteTCP", "IngressRouteUDP":
		return schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: strings.ToLower(kind) + "s"}, true
	}
	return schema.GroupVersionResource{}, false
}

// Workloads checks the clusters themselves, where gitmig.yaml's gitops.workloads gives
// access: after deploy the service's Deployment is available in the destination;
// after route the Traefik routes of its build are there; after flip the source's
// Service is the ExternalName; after cleanup its pods are gone from the source.
type Workloads struct {
	Clients map[string]dynamic.Interface
}

// Check looks at the step's cluster.
func (w Workloads) Check(ctx context.Context, req Request) (Result, error) {
	if req.Undo {
		return Passed("rollback of step %d: the engine's answer decides", int(req.Step)), nil
	}
	client, ok := w.Clients[req.Cluster]
	if !ok {
		return Passed("no access to %s's workloads (gitops.workloads): not checked there", req.Cluster), nil
	}
	switch req.Step {
	case step.Deploy:
		return deploymentAvailable(ctx, client, req)
	case step.Route:
		return routesInPlace(ctx, client, req)
	case step.Flip:
		return serviceFlipped(ctx, client, req)
	case step.Cleanup:
		return podsGone(ctx, client, req)
	}
	return Failed("no step %d", int(req.Step)), nil
}

func deploymentAvailable(ctx context.Context, client dynamic.Interface, req Request) (Result, error) {
	d, err := client.Resource(deploymentResource).Namespace(req.Namespace).Get(ctx, req.Service, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Waiting("Deployment %s/%s is not in %s yet", req.Namespace, req.Service, req.Cluster), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("reading Deployment %s/%s in %s: %w", req.Namespace, req.Service, req.Cluster, err)
	}
	return EvaluateDeployment(d, req.Cluster), nil
}

// EvaluateDeployment judges a Deployment as kubectl rollout status and Argo CD do,
// by kstatus: it passes when the rollout is complete (every replica updated, ready
// and available, no old pod left terminating, the generation observed), fails when
// the Deployment's progress deadline is exceeded (it will not roll out by waiting),
// and waits otherwise, saying on what.
func EvaluateDeployment(d *unstructured.Unstructured, cluster string) Result {
	ref := d.GetNamespace() + "/" + d.GetName()
	res, err := kstatus.Compute(d)
	if err != nil {
		return Failed("Deployment %s in %s: %v", ref, cluster, err)
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return Passed("Deployment %s in %s: %s", ref, cluster, res.Message)
	case kstatus.FailedStatus:
		return Failed("Deployment %s in %s: %s%s", ref, cluster, res.Message, conditionMessage(res.Conditions))
	}
	return Waiting("Deployment %s in %s: %s", ref, cluster, res.Message)
}

// conditionMessage is what the conditions kstatus found say, after ": ".
func conditionMessage(conditions []kstatus.Condition) string {
	var msgs []string
	for _, c := range conditions {
		if c.Message != "" {
			msgs = append(msgs, c.Message)
		}
	}
	if len(msgs) == 0 {
		return ""
	}
	return ": " + strings.Join(msgs, "; ")
}

// routesInPlace waits until every Traefik route of the destination's build for the
// service, of whatever kind, is in the cluster.
func routesInPlace(ctx context.Context, client dynamic.Interface, req Request) (Result, error) {
	if len(req.Routes) == 0 {
		return Waiting("%s's build has no Traefik route to %s/%s yet", req.Cluster, req.Namespace, req.Service), nil
	}
	var names []string
	for _, r := range req.Routes {
		res, ok := routeResource(r.Kind)
		if !ok {
			return Result{}, fmt.Errorf("%s: not a kind of Traefik route", r)
		}
		_, err := client.Resource(res).Namespace(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return Waiting("%s is not in %s yet", r, req.Cluster), nil
		}
		if err != nil {
			return Result{}, fmt.Errorf("reading %s in %s: %w", r, req.Cluster, err)
		}
		names = append(names, r.String())
	}
	return Passed("%s in %s", strings.Join(names, ", "), req.Cluster), nil
}

func serviceFlipped(ctx context.Context, client dynamic.Interface, req Request) (Result, error) {
	svc, err := client.Resource(serviceResource).Namespace(req.Namespace).Get(ctx, req.Service, metav1.GetOptions{})
	if err != nil {
		return Result{}, fmt.Errorf("reading Service %s/%s in %s: %w", req.Namespace, req.Service, req.Cluster, err)
	}
	typ, _, _ := unstructured.NestedString(svc.Object, "spec", "type")
	name, _, _ := unstructured.NestedString(svc.Object, "spec", "externalName")
	if typ != "ExternalName" || strings.TrimSuffix(name, ".") != strings.TrimSuffix(req.ToDNSName, ".") {
		return Waiting("Service %s/%s in %s is %s %s, not yet ExternalName to %s", req.Namespace, req.Service, req.Cluster, typ, name, req.ToDNSName), nil
	}
	return Passed("Service %s/%s in %s is an ExternalName to %s", req.Namespace, req.Service, req.Cluster, name), nil
}

func podsGone(ctx context.Context, client dynamic.Interface, req Request) (Result, error) {
	_, err := client.Resource(deploymentResource).Namespace(req.Namespace).Get(ctx, req.Service, metav1.GetOptions{})
	if err == nil {
		return Waiting("Deployment %s/%s is still in %s", req.Namespace, req.Service, req.Cluster), nil
	}
	if !apierrors.IsNotFound(err) {
		return Result{}, err
	}
	if len(req.PodSelector) == 0 {
		return Passed("Deployment %s/%s gone from %s", req.Namespace, req.Service, req.Cluster), nil
	}
	pods, err := client.Resource(podResource).Namespace(req.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(req.PodSelector).String()})
	if err != nil {
		return Result{}, fmt.Errorf("listing %s's pods in %s: %w", req.Service, req.Cluster, err)
	}
	if n := len(pods.Items); n > 0 {
		return Waiting("%d of %s's pods still in %s", n, req.Service, req.Cluster), nil
	}
	return Passed("%s's pods gone from %s", req.Service, req.Cluster), nil
}

// RESTConfig builds a client configuration from a kubeconfig and context, or the
// in-cluster configuration when no kubeconfig is named.
func RESTConfig(target config.KubeTarget) (*rest.Config, error) {
	if target.Kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no kubeconfig given and not running in a cluster: %w", err)
		}
		return cfg, nil
	}
	path := target.Kubeconfig
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(home, rest)
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: target.Context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s context %q: %w", target.Kubeconfig, target.Context, err)
	}
	return cfg, nil
}

// RequestTimeout bounds one request of a gate to an API server, so that a server that
// accepts and never answers fails the gate's check instead of holding the pass.
const RequestTimeout = 30 * time.Second

// DynamicClient is a dynamic client for a kubeconfig target whose every request ends
// within timeout (or the kubeconfig's own, shorter, timeout).
func DynamicClient(target config.KubeTarget, timeout time.Duration) (dynamic.Interface, error) {
	cfg, err := RESTConfig(target)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 || cfg.Timeout > timeout {
		cfg.Timeout = timeout
	}
	return dynamic.NewForConfig(cfg)
}
