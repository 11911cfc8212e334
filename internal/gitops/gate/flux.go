package gate

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// KustomizationResource is Flux's Kustomization.
var KustomizationResource = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

// RequestedAtAnnotation asks a Flux controller to reconcile now.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// Flux passes a step once the Kustomization of its cluster is Ready, has observed its
// latest generation, and last applied the merge commit or a later one.
type Flux struct {
	Client         dynamic.Interface
	Namespace      string
	Kustomizations map[string]string
	// NoRequest leaves Flux to its own interval instead of annotating the
	// Kustomization.
	NoRequest bool
}

// Check reads the Kustomization and, when it has not applied the merge yet, asks for a
// reconcile.
func (f Flux) Check(ctx context.Context, req Request) (Result, error) {
	name, ok := f.Kustomizations[req.Cluster]
	if !ok {
		return Failed("gitops.flux.kustomizations names no Kustomization for cluster %s", req.Cluster), nil
	}
	ks, err := f.Client.Resource(KustomizationResource).Namespace(f.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Waiting("Flux Kustomization %s/%s does not exist", f.Namespace, name), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("reading Flux Kustomization %s/%s: %w", f.Namespace, name, err)
	}
	res, stale, err := EvaluateKustomization(ctx, ks, req)
	if err != nil || !stale || f.NoRequest || req.ReadOnly {
		return res, err
	}
	// Flux acts on a new value; one request per merge is enough.
	value := req.MergeCommit
	if ks.GetAnnotations()[RequestedAtAnnotation] == value {
		return res, nil
	}
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, RequestedAtAnnotation, value))
	// The source first, as `flux reconcile kustomization --with-source` does: the
	// Kustomization alone would apply the artifact it already has.
	if err := f.requestSource(ctx, ks, patch); err != nil {
		return Result{}, err
	}
	if _, err := f.Client.Resource(KustomizationResource).Namespace(f.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return Result{}, fmt.Errorf("requesting a reconcile of Kustomization %s/%s: %w", f.Namespace, name, err)
	}
	res.Reason += "; reconcile requested"
	return res, nil
}

// GitRepositoryResource is Flux's GitRepository, the usual source of a Kustomization.
var GitRepositoryResource = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}

// requestSource asks the Kustomization's GitRepository to fetch now. A source of
// another kind, or one that is not there, is left to its own interval.
func (f Flux) requestSource(ctx context.Context, ks *unstructured.Unstructured, patch []byte) error {
	kind, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "name")
	namespace, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace")
	if kind != "GitRepository" || name == "" {
		return nil
	}
	if namespace == "" {
		namespace = ks.GetNamespace()
	}
	_, err := f.Client.Resource(GitRepositoryResource).Namespace(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("requesting a fetch of GitRepository %s/%s: %w", namespace, name, err)
	}
	return nil
}

// EvaluateKustomization is Flux's decision on one Kustomization. stale reports that
// Flux has not applied the merge yet, so a reconcile request would help.
func EvaluateKustomization(ctx context.Context, ks *unstructured.Unstructured, req Request) (res Result, stale bool, err error) {
	name := ks.GetName()
	observed, _, _ := unstructured.NestedInt64(ks.Object, "status", "observedGeneration")
	if observed != ks.GetGeneration() {
		return Waiting("Kustomization %s has observed generation %d of %d", name, observed, ks.GetGeneration()), false, nil
	}
	ready := readyCondition(ks)
	applied, _, _ := unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
	attempted, _, _ := unstructured.NestedString(ks.Object, "status", "lastAttemptedRevision")
	if ready.status == "False" && attempted != "" {
		if ok, err := req.Descends(ctx, RevisionSHA(attempted)); err != nil {
			return Result{}, false, err
		} else if ok && unrecoverable(ready.reason) {
			return Failed("Kustomization %s failed to apply %s: %s: %s", name, attempted, ready.reason, ready.message), false, nil
		}
	}
	if applied == "" {
		return Waiting("Kustomization %s has applied no revision yet", name), true, nil
	}
	at, err := req.Descends(ctx, RevisionSHA(applied))
	if err != nil {
		return Result{}, false, err
	}
	if !at {
		return Waiting("Kustomization %s last applied %s, not yet the merge %s or later", name, applied, short(req.MergeCommit)), true, nil
	}
	if ready.status != "True" {
		return Waiting("Kustomization %s is not Ready: %s %s", name, ready.reason, ready.message), false, nil
	}
	res = Passed("Flux Kustomization %s Ready, applied %s", name, applied)
	res.AppliedAt = ready.since
	return res, false, nil
}

// unrecoverable reports a Ready=False reason that retrying the same revision will not
// fix.
func unrecoverable(reason string) bool {
	return reason == "BuildFailed" || reason == "ArtifactFailed"
}

type condition struct {
	status, reason, message string
	since                   time.Time
}

func readyCondition(obj *unstructured.Unstructured) condition {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		var out condition
		out.status, _ = m["status"].(string)
		out.reason, _ = m["reason"].(string)
		out.message, _ = m["message"].(string)
		if s, _ := m["lastTransitionTime"].(string); s != "" {
			out.since, _ = time.Parse(time.RFC3339, s)
		}
		return out
	}
	return condition{status: "Unknown", reason: "NoReadyCondition"}
}

// RevisionSHA extracts the commit from a Flux revision: "main@sha1:<sha>" since Flux
// 2.1, "main/<sha>" before it, or a bare "sha1:<sha>".
func RevisionSHA(revision string) string {
	if i := strings.LastIndex(revision, ":"); i >= 0 {
		return revision[i+1:]
	}
	if i := strings.LastIndex(revision, "/"); i >= 0 {
		return revision[i+1:]
	}
	return revision
}
