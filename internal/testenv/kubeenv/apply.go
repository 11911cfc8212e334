package kubeenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// ParseYAML decodes a multi-document YAML stream, such as a kustomize build's output,
// skipping empty documents.
func ParseYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objs)+1, err)
		}
		if len(obj) != 0 {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
}

// ObjectRef names one object: its kind with group and version, and where it is.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of an object as written, its namespace included.
func RefOf(obj *unstructured.Unstructured) ObjectRef {
	gvk := obj.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String spells the reference as "Kind.group namespace/name", without the version.
func (r ObjectRef) String() string {
	kind := r.Kind
	if r.Group != "" {
		kind += "." + r.Group
	}
	if r.Namespace == "" {
		return kind + " " + r.Name
	}
	return kind + " " + r.Namespace + "/" + r.Name
}

// ID is the reference without its version: the same object served in two versions
// has one ID.
func (r ObjectRef) ID() ObjectRef {
	r.Version = ""
	return r
}

// Applier server-side applies objects to one API server, as a GitOps engine does with
// the build of a cluster's overlay.
type Applier struct {
	Client dynamic.Interface
	// Mapper resolves kinds, those of CRDs included, to resources and their scope.
	Mapper meta.ResettableRESTMapper
	// FieldManager owns the fields the Applier sets.
	FieldManager string
	// DryRun has the API server validate and admit every object without storing it.
	DryRun bool
}

// mappingTimeout bounds the wait for a kind to appear in discovery, which lags a
// little behind a CRD's creation.
const mappingTimeout = 15 * time.Second

// Apply server-side applies the objects, forcing ownership of conflicting fields as
// Argo CD and Flux do. Namespaces and CRDs go first, then the other built-in kinds in
// dependency order, then the kinds that CRDs define, which the Mapper resolves once
// discovery serves them. Namespaced objects without a namespace go to "default".
// Every failing object is reported.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) error {
	_, err := a.apply(ctx, objs)
	return err
}

// apply applies the objects and returns the references of those applied, with the
// namespace they went to.
func (a *Applier) apply(ctx context.Context, objs []*unstructured.Unstructured) ([]ObjectRef, error) {
	sorted := slices.Clone(objs)
	slices.SortStableFunc(sorted, func(x, y *unstructured.Unstructured) int {
		return kindRank(x.GroupVersionKind().GroupKind()) - kindRank(y.GroupVersionKind().GroupKind())
	})
	var applied []ObjectRef
	var errs []error
	for _, obj := range sorted {
		ref, err := a.applyOne(ctx, obj)
		if err != nil {
			errs = append(errs, fmt.Errorf("applying %s: %w", RefOf(obj), err))
			continue
		}
		applied = append(applied, ref)
	}
	return applied, errors.Join(errs...)
}

func (a *Applier) applyOne(ctx context.Context, obj *unstructured.Unstructured) (ObjectRef, error) {
	ref := RefOf(obj)
	res, namespaced, err := a.resource(ctx, ref)
	if err != nil {
		return ref, err
	}
	obj = obj.DeepCopy()
	switch {
	case namespaced && ref.Namespace == "":
		ref.Namespace = metav1.NamespaceDefault
		obj.SetNamespace(ref.Namespace)
	case !namespaced:
		ref.Namespace = ""
		obj.SetNamespace("")
	}
	data, err := obj.MarshalJSON()
	if err != nil {
		return ref, err
	}
	// Strict, as kubectl asks: a field that no schema knows is an error, not a warning.
	force := true
	opts := metav1.PatchOptions{FieldManager: a.FieldManager, Force: &force, FieldValidation: "Strict"}
	if a.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = a.client(res, ref.Namespace).Patch(ctx, ref.Name, types.ApplyPatchType, data, opts)
	return ref, err
}

// resource maps a reference's kind to its resource, waiting a little for kinds that
// discovery does not show yet.
func (a *Applier) resource(ctx context.Context, ref ObjectRef) (schema.GroupVersionResource, bool, error) {
	gk := schema.GroupKind{Group: ref.Group, Kind: ref.Kind}
	deadline := time.Now().Add(mappingTimeout)
	for {
		m, err := a.Mapper.RESTMapping(gk, ref.Version)
		if err == nil {
			return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
		}
		if !meta.IsNoMatchError(err) || time.Now().After(deadline) {
			return schema.GroupVersionResource{}, false, err
		}
		a.Mapper.Reset()
		select {
		case <-ctx.Done():
			return schema.GroupVersionResource{}, false, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (a *Applier) client(res schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return a.Client.Resource(res)
	}
	return a.Client.Resource(res).Namespace(namespace)
}

// InventoryNamespace holds the ConfigMaps in which ApplyPrune records what it applied.
const InventoryNamespace = metav1.NamespaceSystem

// ApplyPrune applies the objects, then deletes the objects that the previous
// ApplyPrune of the same inventory applied and that are no longer among them, like
// Argo CD's and Flux's pruning: nothing outside the inventory is ever deleted. The
// inventory is kept in the ConfigMap of that name in InventoryNamespace. It returns
// what it deleted, in the order it deleted it (the reverse of the apply order).
func (a *Applier) ApplyPrune(ctx context.Context, inventory string, objs []*unstructured.Unstructured) ([]ObjectRef, error) {
	previous, err := a.readInventory(ctx, inventory)
	if err != nil {
		return nil, err
	}
	applied, err := a.apply(ctx, objs)
	if err != nil {
		return nil, err
	}
	keep := map[ObjectRef]bool{}
	for _, ref := range applied {
		keep[ref.ID()] = true
	}
	var prune []ObjectRef
	for _, ref := range previous {
		if !keep[ref.ID()] {
			prune = append(prune, ref)
		}
	}
	// Custom resources first, Namespaces last, so nothing is deleted under an object
	// still being deleted.
	slices.SortStableFunc(prune, func(x, y ObjectRef) int {
		return kindRank(schema.GroupKind{Group: y.Group, Kind: y.Kind}) - kindRank(schema.GroupKind{Group: x.Group, Kind: x.Kind})
	})
	var pruned []ObjectRef
	for _, ref := range prune {
		res, _, err := a.resource(ctx, ref)
		if err != nil {
			return pruned, fmt.Errorf("pruning %s: %w", ref, err)
		}
		background := metav1.DeletePropagationBackground
		err = a.client(res, ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &background})
		if err != nil && !apierrors.IsNotFound(err) {
			return pruned, fmt.Errorf("pruning %s: %w", ref, err)
		}
		pruned = append(pruned, ref)
	}
	return pruned, a.writeInventory(ctx, inventory, applied)
}

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// inventoryKey is the ConfigMap key of the inventory: a JSON list of ObjectRefs.
const inventoryKey = "objects.json"

func (a *Applier) readInventory(ctx context.Context, name string) ([]ObjectRef, error) {
	cm, err := a.Client.Resource(configMaps).Namespace(InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading inventory %s: %w", name, err)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	var refs []ObjectRef
	if err := json.Unmarshal([]byte(data), &refs); err != nil {
		return nil, fmt.Errorf("reading inventory %s: %w", name, err)
	}
	return refs, nil
}

func (a *Applier) writeInventory(ctx context.Context, name string, refs []ObjectRef) error {
	data, err := json.MarshalIndent(refs, "", "  ")
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": name, "namespace": InventoryNamespace},
		"data":       map[string]any{inventoryKey: string(data)},
	}}
	_, err = a.Client.Resource(configMaps).Namespace(InventoryNamespace).Apply(ctx, name, cm, metav1.ApplyOptions{FieldManager: a.FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("writing inventory %s: %w", name, err)
	}
	return nil
}

// applyOrder lists built-in kinds in the order a GitOps engine applies them: what
// others refer to before what refers to it. Kinds not listed, those that CRDs define
// among them, come after all of these.
func applyOrder() []schema.GroupKind {
	return []schema.GroupKind{
		{Kind: "Namespace"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
		{Kind: "ResourceQuota"}, {Kind: "LimitRange"},
		{Kind: "ServiceAccount"}, {Kind: "Secret"}, {Kind: "ConfigMap"},
		{Group: "storage.k8s.io", Kind: "StorageClass"}, {Kind: "PersistentVolume"}, {Kind: "PersistentVolumeClaim"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, {Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
		{Group: "rbac.authorization.k8s.io", Kind: "Role"}, {Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
		{Kind: "Service"},
		{Group: "apps", Kind: "DaemonSet"}, {Kind: "Pod"}, {Group: "apps", Kind: "ReplicaSet"},
		{Group: "apps", Kind: "Deployment"}, {Group: "apps", Kind: "StatefulSet"},
		{Group: "batch", Kind: "Job"}, {Group: "batch", Kind: "CronJob"},
		{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, {Group: "policy", Kind: "PodDisruptionBudget"},
		{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
		{Group: "networking.k8s.io", Kind: "IngressClass"}, {Group: "networking.k8s.io", Kind: "Ingress"},
	}
}

// kindRank is a kind's place in applyOrder; unlisted kinds share the last place.
func kindRank(gk schema.GroupKind) int {
	order := applyOrder()
	if i := slices.Index(order, gk); i >= 0 {
		return i
	}
	return len(order)
}
