package render

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gitmig/gitmig/internal/tree"
)

// kustomizationIn reads the kustomization of dir in a tree of files.
func kustomizationIn(t *testing.T, dir string, files map[string]string) (*Kustomization, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for p, content := range files {
		fsys[p] = &fstest.MapFile{Data: []byte(content)}
	}
	return ReadKustomization(tree.FromFS(fsys), dir)
}

func parseKustomization(t *testing.T, content string) *Kustomization {
	t.Helper()
	k, err := kustomizationIn(t, "overlay", map[string]string{"overlay/kustomization.yaml": content})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func kustomizationBytes(t *testing.T, k *Kustomization) string {
	t.Helper()
	data, err := k.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// wide is a kustomization written by hand with list items indented under their key,
// comments everywhere and fields gitmig never touches.
const wide = `# The west cluster.
# Owned by the shop team.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop # every object lands here
resources:
  # the shop itself
  - ../../base/shop
  - extra.yaml # written by hand
images:
  - name: shop
    newTag: "1.2"
configMapGenerator:
  - name: settings
    literals:
      - MODE=west
`

// compact is the same with list items at their key's indentation.
const compact = `# The west cluster.
# Owned by the shop team.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop # every object lands here
resources:
# the shop itself
- ../../base/shop
- extra.yaml # written by hand
images:
- name: shop
  newTag: "1.2"
configMapGenerator:
- name: settings
  literals:
  - MODE=west
`

func TestKustomizationEdits(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(t *testing.T, k *Kustomization)
		want string
	}{
		{
			name: "untouched file is written back byte for byte, wide",
			in:   wide,
			edit: func(*testing.T, *Kustomization) {},
			want: wide,
		},
		{
			name: "untouched file is written back byte for byte, compact",
			in:   compact,
			edit: func(*testing.T, *Kustomization) {},
			want: compact,
		},
		{
			name: "add a resource to a wide list",
			in:   wide,
			edit: addResources("../../base/api"),
			want: strings.Replace(wide, "  - extra.yaml # written by hand\n",
				"  - extra.yaml # written by hand\n  - ../../base/api\n", 1),
		},
		{
			name: "add a resource to a compact list",
			in:   compact,
			edit: addResources("../../base/api"),
			want: strings.Replace(compact, "- extra.yaml # written by hand\n",
				"- extra.yaml # written by hand\n- ../../base/api\n", 1),
		},
		{
			name: "adding twice is a no-op, also for the same folder spelt otherwise",
			in:   wide,
			edit: addResources("../../base/api", "../../base/api", "../../base/api/", "../../base/shop/", "./../../base/shop"),
			want: strings.Replace(wide, "  - extra.yaml # written by hand\n",
				"  - extra.yaml # written by hand\n  - ../../base/api\n", 1),
		},
		{
			name: "resources: [] becomes a block list",
			in:   "# Nothing here yet.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
			edit: addResources("../../base/api", "gitmig/namespace-shop.yaml"),
			want: "# Nothing here yet.\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base/api\n- gitmig/namespace-shop.yaml\n",
		},
		{
			name: "a flow list with entries becomes a block list",
			in:   "resources: [a.yaml, b.yaml]\nnamespace: shop\n",
			edit: addResources("c.yaml"),
			want: "resources:\n- a.yaml\n- b.yaml\n- c.yaml\nnamespace: shop\n",
		},
		{
			name: "resources absent: appended after every other field",
			in:   "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\n",
			edit: addResources("../../base/api"),
			want: "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: shop\nresources:\n- ../../base/api\n",
		},
		{
			name: "resources with no value",
			in:   "kind: Kustomization\nresources:\nnamespace: shop\n",
			edit: addResources("../../base/api"),
			want: "kind: Kustomization\nresources:\n- ../../base/api\nnamespace: shop\n",
		},
		{
			name: "patches: null",
			in:   "resources: [a.yaml]\npatches: null\n",
			edit: addPatches("gitmig/flip-shop.yaml"),
			want: "resources: [a.yaml]\npatches:\n- path: gitmig/flip-shop.yaml\n",
		},
		{
			name: "remove a resource, keeping the others and their comments",
			in:   wide,
			edit: func(t *testing.T, k *Kustomization) {
				if !k.RemoveResource("./extra.yaml") {
					t.Error("RemoveResource of a listed file returned false")
				}
				if k.RemoveResource("../../base/absent") {
					t.Error("RemoveResource of an absent entry returned true")
				}
			},
			want: strings.Replace(wide, "  - extra.yaml # written by hand\n", "", 1),
		},
		{
			name: "add a patch where there are none",
			in:   wide,
			edit: addPatches("gitmig/flip-shop.yaml"),
			want: wide + "patches:\n  - path: gitmig/flip-shop.yaml\n",
		},
		{
			name: "add a patch after the user's own, twice",
			in:   "resources:\n- ../../base/shop\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 3\n",
			edit: addPatches("gitmig/flip-shop.yaml", "gitmig/flip-shop.yaml"),
			want: "resources:\n- ../../base/shop\npatches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/replicas\n      value: 3\n- path: gitmig/flip-shop.yaml\n",
		},
		{
			name: "removing the last patch drops the empty patches field",
			in:   "# west\nresources:\n  - ../../base/shop\npatches:\n  - path: gitmig/flip-shop.yaml\nimages:\n  - name: shop\n    newTag: \"2\"\n",
			edit: removePatch("gitmig/flip-shop.yaml", true),
			want: "# west\nresources:\n  - ../../base/shop\nimages:\n  - name: shop\n    newTag: \"2\"\n",
		},
		{
			name: "removing one patch of two keeps the other",
			in:   "patches:\n- path: mine.yaml # keep\n- path: gitmig/flip-shop.yaml\n",
			edit: removePatch("./gitmig/flip-shop.yaml", true),
			want: "patches:\n- path: mine.yaml # keep\n",
		},
		{
			name: "removing an absent patch changes nothing",
			in:   "patches:\n- path: mine.yaml\n",
			edit: removePatch("gitmig/flip-shop.yaml", false),
			want: "patches:\n- path: mine.yaml\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := parseKustomization(t, tt.in)
			tt.edit(t, k)
			if got := kustomizationBytes(t, k); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func addResources(entries ...string) func(*testing.T, *Kustomization) {
	return func(t *testing.T, k *Kustomization) {
		t.Helper()
		for _, e := range entries {
			if err := k.AddResource(e); err != nil {
				t.Fatal(err)
			}
			if !k.HasResource(e) {
				t.Errorf("HasResource(%q) is false after AddResource", e)
			}
		}
	}
}

func addPatches(paths ...string) func(*testing.T, *Kustomization) {
	return func(t *testing.T, k *Kustomization) {
		t.Helper()
		for _, p := range paths {
			if err := k.AddPatch(p); err != nil {
				t.Fatal(err)
			}
			if !k.HasPatch(p) {
				t.Errorf("HasPatch(%q) is false after AddPatch", p)
			}
		}
	}
}

func removePatch(p string, present bool) func(*testing.T, *Kustomization) {
	return func(t *testing.T, k *Kustomization) {
		t.Helper()
		if got := k.RemovePatch(p); got != present {
			t.Errorf("RemovePatch(%q) = %v, want %v", p, got, present)
		}
		if k.HasPatch(p) {
			t.Errorf("HasPatch(%q) after RemovePatch", p)
		}
	}
}

func TestKustomizationResources(t *testing.T) {
	k := parseKustomization(t, compact)
	if got := strings.Join(k.Resources(), " "); got != "../../base/shop extra.yaml" {
		t.Errorf("Resources() = %q", got)
	}
	if k.HasResource("../../base/api") {
		t.Error("HasResource of an absent entry")
	}
	if k.Path != "overlay/kustomization.yaml" {
		t.Errorf("Path = %q", k.Path)
	}
}

func TestReadKustomization(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		path    string
		wantErr string
	}{
		{name: "kustomization.yml", files: map[string]string{"overlay/kustomization.yml": "resources: []\n"}, path: "overlay/kustomization.yml"},
		{name: "Kustomization", files: map[string]string{"overlay/Kustomization": "resources: []\n"}, path: "overlay/Kustomization"},
		{
			name:  "kustomization.yaml first",
			files: map[string]string{"overlay/kustomization.yaml": "resources: []\n", "overlay/Kustomization": "resources: []\n"},
			path:  "overlay/kustomization.yaml",
		},
		{name: "none", files: map[string]string{"overlay/deployment.yaml": "kind: Deployment\n"}, wantErr: "overlay: no kustomization.yaml"},
		{name: "a list", files: map[string]string{"overlay/kustomization.yaml": "- resources\n"}, wantErr: "overlay/kustomization.yaml: not a YAML mapping"},
		{name: "malformed", files: map[string]string{"overlay/kustomization.yaml": "resources: [\n"}, wantErr: "overlay/kustomization.yaml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := kustomizationIn(t, "overlay", tt.files)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("error = %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case k.Path != tt.path:
				t.Errorf("Path = %q, want %q", k.Path, tt.path)
			}
		})
	}
}

func TestKustomizationNotAList(t *testing.T) {
	k := parseKustomization(t, "resources: base\npatches: {path: x.yaml}\n")
	if err := k.AddResource("../../base/api"); err == nil || err.Error() != "overlay/kustomization.yaml: resources is not a list" {
		t.Errorf("AddResource to a scalar: %v", err)
	}
	if err := k.AddPatch("gitmig/flip-api.yaml"); err == nil || err.Error() != "overlay/kustomization.yaml: patches is not a list" {
		t.Errorf("AddPatch to a mapping: %v", err)
	}
	if k.RemoveResource("base") || k.RemovePatch("x.yaml") {
		t.Error("removed an entry from a field that is not a list")
	}
	if got := kustomizationBytes(t, k); got != "resources: base\npatches: {path: x.yaml}\n" {
		t.Errorf("the file changed: %q", got)
	}
}
