package gate

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// ApplicationResource is Argo CD's Application.
var ApplicationResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// RefreshAnnotation asks Argo CD to compare an Application with Git now instead of at
// its next poll.
const RefreshAnnotation = "argocd.argoproj.io/refresh"

// DefaultMaxClockSkew is how far Argo CD's or Flux's clock may run behind gitmig's
// before a reconcile time that looks older than the merge counts as stale.
const DefaultMaxClockSkew = time.Minute

// ArgoCD passes a step once the Application of its cluster has synced the merge commit
// (or a later one), is Synced and Healthy, its last operation Succeeded, and it
// reconciled after the merge.
type ArgoCD struct {
	Client       dynamic.Interface
	Namespace    string
	Applications map[string]string
	MaxClockSkew time.Duration
	// NoRefresh leaves Argo CD to its own poll instead of annotating the Application.
	NoRefresh bool
}

// Check reads the Application and, when it has not seen the merge yet, asks for a
// refresh.
func (a ArgoCD) Check(ctx context.Context, req Request) (Result, error) {
	name, ok := a.Applications[req.Cluster]
	if !ok {
		return Failed("gitops.argocd.applications names no Application for cluster %s", req.Cluster), nil
	}
	app, err := a.Client.Resource(ApplicationResource).Namespace(a.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Waiting("Argo CD Application %s/%s does not exist", a.Namespace, name), nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("reading Argo CD Application %s/%s: %w", a.Namespace, name, err)
	}
	res, stale, err := EvaluateApplication(ctx, app, req, a.skew())
	if err != nil || !stale || a.NoRefresh || req.ReadOnly || app.GetAnnotations()[RefreshAnnotation] != "" {
		return res, err
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"normal"}}}`, RefreshAnnotation)
	if _, err := a.Client.Resource(ApplicationResource).Namespace(a.Namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return Result{}, fmt.Errorf("requesting a refresh of Application %s/%s: %w", a.Namespace, name, err)
	}
	res.Reason += "; refresh requested"
	return res, nil
}

func (a ArgoCD) skew() time.Duration {
	if a.MaxClockSkew == 0 {
		return DefaultMaxClockSkew
	}
	return a.MaxClockSkew
}

// EvaluateApplication is ArgoCD's decision on one Application. stale reports that Argo
// CD has not yet seen the merge, so a refresh would help.
func EvaluateApplication(ctx context.Context, app *unstructured.Unstructured, req Request, skew time.Duration) (res Result, stale bool, err error) {
	name := app.GetName()
	revision, _, _ := unstructured.NestedString(app.Object, "status", "sync", "revision")
	if revision == "" {
		if revs, _, _ := unstructured.NestedStringSlice(app.Object, "status", "sync", "revisions"); len(revs) > 0 {
			revision = revs[0]
		}
	}
	if revision == "" {
		return Waiting("Application %s has synced no revision yet", name), true, nil
	}
	at, err := req.Descends(ctx, revision)
	if err != nil {
		return Result{}, false, err
	}
	if !at {
		return Waiting("Application %s is at %s, not yet at the merge %s or later", name, short(revision), short(req.MergeCommit)), true, nil
	}
	phase, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "phase")
	message, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "message")
	opRevision, _, _ := unstructured.NestedString(app.Object, "status", "operationState", "syncResult", "revision")
	if phase == "Failed" || phase == "Error" {
		if ok, err := descendsOrEmpty(ctx, req, opRevision); err != nil || ok {
			return Failed("Application %s: sync of %s %s: %s", name, short(opRevision), phase, message), false, err
		}
	}
	if phase != "Succeeded" {
		return Waiting("Application %s: last operation %s", name, orUnknown(phase)), false, nil
	}
	sync, _, _ := unstructured.NestedString(app.Object, "status", "sync", "status")
	if sync != "Synced" {
		return Waiting("Application %s is %s", name, orUnknown(sync)), false, nil
	}
	health, _, _ := unstructured.NestedString(app.Object, "status", "health", "status")
	if health != "Healthy" {
		healthMessage, _, _ := unstructured.NestedString(app.Object, "status", "health", "message")
		return Waiting("Application %s is %s %s", name, orUnknown(health), healthMessage), false, nil
	}
	reconciledAt, err := nestedTime(app.Object, "status", "reconciledAt")
	if err != nil {
		return Result{}, false, fmt.Errorf("Application %s: %w", name, err)
	}
	if reconciledAt.IsZero() || reconciledAt.Before(req.MergedAt.Add(-skew)) {
		return Waiting("Application %s last reconciled at %s, before the merge at %s", name, formatTime(reconciledAt), formatTime(req.MergedAt)), true, nil
	}
	finishedAt, err := nestedTime(app.Object, "status", "operationState", "finishedAt")
	if err != nil {
		return Result{}, false, fmt.Errorf("Application %s: %w", name, err)
	}
	res = Passed("Argo CD Application %s Synced and Healthy at %s", name, short(revision))
	res.AppliedAt = finishedAt
	return res, false, nil
}

// descendsOrEmpty treats an operation without a revision as about the current one.
func descendsOrEmpty(ctx context.Context, req Request, sha string) (bool, error) {
	if sha == "" {
		return true, nil
	}
	return req.Descends(ctx, sha)
}

func nestedTime(obj map[string]any, fields ...string) (time.Time, error) {
	s, _, _ := unstructured.NestedString(obj, fields...)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%v is not a time: %q", fields, s)
	}
	return t, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
