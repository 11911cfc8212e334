package render

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/step"
	"github.com/gitmig/gitmig/internal/testenv/kubeenv"
)

// inventory names the record of what the test, playing Argo CD or Flux, applied to
// each cluster, and so may prune there.
const inventory = "gitmig-e2e"

// TestApplyStepsToAPIServers takes each fleet through the four steps on real API
// servers, one per cluster, with the upstream CRDs installed. Every cluster's build is
// server-side applied first; then each step's edited cluster is rebuilt and applied
// with pruning, as Argo CD or Flux would after the merge. After every step the objects
// the API server stores are compared with what the step's build added and removed,
// in the edited cluster and in all the others; after step 4 the source cluster has
// lost the Deployment and nothing else, and its Service is the ExternalName to the
// destination.
func TestApplyStepsToAPIServers(t *testing.T) {
	for _, f := range []fleetCase{exampleFleet, metroFleet} {
		t.Run(f.name, func(t *testing.T) {
			repo := f.load(t)
			m := f.migration(t, repo)
			var names []string
			for _, cl := range repo.Config().Clusters {
				names = append(names, cl.Name)
			}
			env := kubeenv.Start(t, names...)

			builds := map[string]*fleet.Build{}
			live := map[string][]kubeenv.ObjectRef{}
			for _, name := range names {
				builds[name] = mustBuild(t, repo, name)
				if pruned := applyBuild(t, env.Cluster(name), buildYAML(t, repo, name)); len(pruned) != 0 {
					t.Fatalf("%s: the first apply pruned %v", name, pruned)
				}
			}
			for _, name := range names {
				live[name] = liveObjects(t, env.Cluster(name))
			}
			initial := live[m.From.Name]

			for _, s := range step.All() {
				change, err := repo.Render(m, s)
				if err != nil {
					t.Fatalf("step %s: %v", s, err)
				}
				if err := repo.Apply(change.Edits); err != nil {
					t.Fatal(err)
				}
				name := change.Cluster
				b := mustBuild(t, repo, name)
				pruned := applyBuild(t, env.Cluster(name), buildYAML(t, repo, name))

				left, joined := buildDiff(builds[name], b)
				if got, want := idStrings(pruned), idStrings(left); got != want {
					t.Errorf("step %s pruned in %s: %s; want what left its build: %s", s, name, got, want)
				}
				want := slices.DeleteFunc(slices.Clone(live[name]), func(r kubeenv.ObjectRef) bool {
					return slices.Contains(left, r.ID())
				})
				want = append(want, joined...)
				live[name] = liveObjects(t, env.Cluster(name))
				if diff := kubeenv.Diff(live[name], want); diff != "" {
					t.Errorf("after step %s, %s stores (+) objects not expected, and lacks (-) some:\n%s", s, name, diff)
				}
				for _, other := range names {
					if other == name {
						continue
					}
					if diff := kubeenv.Diff(liveObjects(t, env.Cluster(other)), live[other]); diff != "" {
						t.Errorf("step %s edits %s, but %s changed (+ new, - gone):\n%s", s, name, other, diff)
					}
				}
				builds[name] = b
				if s == step.Flip || s == step.Cleanup {
					checkExternalName(t, repo, s, env.Cluster(m.From.Name), m)
				}
			}

			// After cleanup, the source lost its Deployment and nothing else.
			src := env.Cluster(m.From.Name)
			svc := m.Service
			deployment := kubeenv.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: svc.Namespace, Name: svc.Name}
			if _, err := get(t, src, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, svc.Namespace, svc.Name); !apierrors.IsNotFound(err) {
				t.Errorf("%s still has Deployment %s/%s (%v)", src.Name, svc.Namespace, svc.Name, err)
			}
			ns, err := get(t, src, schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, "", svc.Namespace)
			if err != nil {
				t.Errorf("%s lost Namespace %s: %v", src.Name, svc.Namespace, err)
			} else if phase, _, _ := unstructured.NestedString(ns.Object, "status", "phase"); phase != "Active" || ns.GetDeletionTimestamp() != nil {
				t.Errorf("%s's Namespace %s is %s, deletion %v", src.Name, svc.Namespace, phase, ns.GetDeletionTimestamp())
			}
			want := slices.DeleteFunc(slices.Clone(initial), func(r kubeenv.ObjectRef) bool { return r.ID() == deployment })
			if diff := kubeenv.Diff(live[src.Name], want); diff != "" {
				t.Errorf("%s after cleanup differs from what it stored before step 1, less Deployment %s/%s (+ new, - gone):\n%s",
					src.Name, svc.Namespace, svc.Name, diff)
			}
			if _, err := get(t, env.Cluster(m.To.Name), schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, svc.Namespace, svc.Name); err != nil {
				t.Errorf("%s does not run %s: %v", m.To.Name, svc.Name, err)
			}
		})
	}
}

// applyBuild server-side applies a cluster's build with pruning and returns what was
// pruned; the test stops on any error, the API server's message and the build shown.
func applyBuild(t *testing.T, c *kubeenv.Cluster, yml []byte) []kubeenv.ObjectRef {
	t.Helper()
	objs, err := kubeenv.ParseYAML(yml)
	if err != nil {
		t.Fatal(err)
	}
	pruned, err := c.Applier("gitmig-e2e").ApplyPrune(t.Context(), inventory, objs)
	if err != nil {
		t.Fatalf("%s refuses its build: %v\nbuild:\n%s", c.Name, err, yml)
	}
	return pruned
}

// buildDiff returns the IDs of the objects that left a cluster's build and of those
// that joined it.
func buildDiff(before, after *fleet.Build) (left, joined []kubeenv.ObjectRef) {
	ids := func(b *fleet.Build) []kubeenv.ObjectRef {
		var refs []kubeenv.ObjectRef
		for _, o := range b.Objects {
			refs = append(refs, kubeenv.ObjectRef{Group: o.Group(), Kind: o.Kind, Namespace: o.Namespace, Name: o.Name})
		}
		return refs
	}
	was, is := ids(before), ids(after)
	for _, r := range was {
		if !slices.Contains(is, r) {
			left = append(left, r)
		}
	}
	for _, r := range is {
		if !slices.Contains(was, r) {
			joined = append(joined, r)
		}
	}
	return left, joined
}

// checkExternalName reads the source's Service back from its API server: after the
// flip and after cleanup it is an ExternalName to the destination's ingress, with the
// base's ports and without cluster IP or selector.
func checkExternalName(t *testing.T, repo *testRepo, s step.Step, src *kubeenv.Cluster, m Migration) {
	t.Helper()
	svc, err := get(t, src, schema.GroupVersionResource{Version: "v1", Resource: "services"}, m.Service.Namespace, m.Service.Name)
	if err != nil {
		t.Errorf("after step %s, %s: %v", s, src.Name, err)
		return
	}
	spec, _, _ := unstructured.NestedMap(svc.Object, "spec")
	if spec["type"] != "ExternalName" || spec["externalName"] != m.To.Ingress.DNSName {
		t.Errorf("after step %s, %s's Service %s is %v to %v; want ExternalName to %s",
			s, src.Name, m.Service.Name, spec["type"], spec["externalName"], m.To.Ingress.DNSName)
	}
	for _, field := range []string{"clusterIP", "clusterIPs", "selector"} {
		if v, ok := spec[field]; ok {
			t.Errorf("after step %s, %s's Service %s keeps %s %v", s, src.Name, m.Service.Name, field, v)
		}
	}
	var got, want []string
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range ports {
		p, _ := p.(map[string]any)
		got = append(got, fmt.Sprintf("%v/%v", p["name"], p["port"]))
	}
	base, err := repo.model.BuildDir(m.Service.Base)
	if err != nil {
		t.Fatal(err)
	}
	baseService, ok := base.Service(m.Service.Namespace, m.Service.Name)
	if !ok {
		t.Fatalf("%s has no Service %s", m.Service.Base, m.Service.Name)
	}
	for _, p := range baseService.Service.Ports {
		want = append(want, fmt.Sprintf("%s/%d", p.Name, p.Port))
	}
	if !slices.Equal(got, want) {
		t.Errorf("after step %s, %s's Service %s has ports %v, want the base's %v", s, src.Name, m.Service.Name, got, want)
	}
}

func get(t *testing.T, c *kubeenv.Cluster, res schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	if namespace == "" {
		return c.Dynamic.Resource(res).Get(t.Context(), name, metav1.GetOptions{})
	}
	return c.Dynamic.Resource(res).Namespace(namespace).Get(t.Context(), name, metav1.GetOptions{})
}

func liveObjects(t *testing.T, c *kubeenv.Cluster) []kubeenv.ObjectRef {
	t.Helper()
	refs, err := c.Objects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return refs
}

// idStrings spells references without their versions, sorted, comma separated.
func idStrings(refs []kubeenv.ObjectRef) string {
	var s []string
	for _, r := range refs {
		s = append(s, r.ID().String())
	}
	slices.Sort(s)
	return strings.Join(s, ", ")
}
