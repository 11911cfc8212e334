package kubeenv

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Objects lists every object the API server stores, in every namespace, sorted by
// their String: what a test compares before and after to show that nothing else
// changed. Some kinds are left out: see skipKind.
func (c *Cluster) Objects(ctx context.Context) ([]ObjectRef, error) {
	// Discovery may have grown since the cache was filled (new CRDs).
	c.discovery.Invalidate()
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil {
		return nil, fmt.Errorf("cluster %s: discovery: %w", c.Name, err)
	}
	var refs []ObjectRef
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || skipKind(gv.Group, r.Kind) {
				continue
			}
			items, err := c.Dynamic.Resource(gv.WithResource(r.Name)).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("cluster %s: listing %s: %w", c.Name, r.Name, err)
			}
			for _, item := range items.Items {
				refs = append(refs, ObjectRef{Group: gv.Group, Version: gv.Version, Kind: r.Kind, Namespace: item.GetNamespace(), Name: item.GetName()})
			}
		}
	}
	slices.SortFunc(refs, func(x, y ObjectRef) int { return strings.Compare(x.String(), y.String()) })
	return refs, nil
}

// skipKind reports whether Objects leaves a kind out: Events and Leases come and go by
// themselves, IPAddresses come and go with the cluster IPs of Services,
// ComponentStatuses are probes rather than stored objects, and v1 Endpoints are
// deprecated (listing them draws a warning) and mirror EndpointSlices.
func skipKind(group, kind string) bool {
	switch {
	case kind == "Event" || kind == "Lease":
		return true
	case kind == "IPAddress":
		return group == "networking.k8s.io"
	case kind == "ComponentStatus" || kind == "Endpoints":
		return group == ""
	}
	return false
}

// Diff lists, by ID, the objects only in got ("+ ...") and those only in want
// ("- ..."), one per line and sorted; "" when both hold the same objects.
func Diff(got, want []ObjectRef) string {
	ids := func(refs []ObjectRef) map[ObjectRef]bool {
		m := map[ObjectRef]bool{}
		for _, r := range refs {
			m[r.ID()] = true
		}
		return m
	}
	g, w := ids(got), ids(want)
	var lines []string
	for r := range g {
		if !w[r] {
			lines = append(lines, "+ "+r.String())
		}
	}
	for r := range w {
		if !g[r] {
			lines = append(lines, "- "+r.String())
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
