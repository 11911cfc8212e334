package render

import (
	"slices"
	"testing"
	"testing/fstest"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitmig/gitmig/internal/tree"
)

// FuzzKustomizationEdits checks the edits gitmig makes to a user's kustomization.yaml,
// on any file that parses: adding a resource or a patch writes a file that holds it
// and every entry it held before; removing it writes a file without it and with every
// other entry; and no field gitmig does not edit changes. `go test` runs the seeds and
// the committed corpus; `go test -fuzz FuzzKustomizationEdits` explores.
func FuzzKustomizationEdits(f *testing.F) {
	for _, seed := range []string{wide, compact, "", "resources:\n", "resources: []\n", "resources: [a, b]\nbases: [../base]\n",
		"bases:\n- ../../base/orc8r\n", "resources: x\n", "patches:\n- path: hold.yaml\n- {patch: '[]', target: {kind: Service}}\n",
		"resources:\n- &a x\n- *a\n", "resources:\n- {path: x}\n- 1\n- null\n"} {
		f.Add([]byte(seed), "../../base/orc8r")
	}
	f.Add([]byte(wide), "./../../base/shop/")
	f.Add([]byte(wide), "gitmig-orc8r-hold.yaml")
	f.Fuzz(func(t *testing.T, data []byte, entry string) {
		if entry == "" {
			return
		}
		k, err := kustomizationIn(t, "o", map[string]string{"o/kustomization.yaml": string(data)})
		if err != nil {
			return
		}
		before := k.Resources()
		untouched := otherFields(t, k)

		if err := k.AddResource(entry); err != nil {
			return // resources is not a list: an error names it, nothing is written
		}
		added := reread(t, k)
		if !added.HasResource(entry) || !holdsAll(added.Resources(), before) || otherFields(t, added) != untouched {
			t.Fatalf("AddResource(%q) wrote\n%s\nfrom\n%s", entry, bytesOf(t, added), data)
		}
		added.RemoveResource(entry)
		removed := reread(t, added)
		want := slices.DeleteFunc(slices.Clone(before), func(r string) bool { return samePath(r, entry) })
		if removed.HasResource(entry) || !slices.Equal(removed.Resources(), want) || otherFields(t, removed) != untouched {
			t.Fatalf("RemoveResource(%q) wrote\n%s\nfrom\n%s", entry, bytesOf(t, removed), data)
		}

		if err := removed.AddPatch(entry); err != nil {
			return
		}
		patched := reread(t, removed)
		if !patched.HasPatch(entry) || !slices.Equal(patched.Resources(), want) {
			t.Fatalf("AddPatch(%q) wrote\n%s", entry, bytesOf(t, patched))
		}
		if !patched.RemovePatch(entry) {
			t.Fatalf("RemovePatch(%q) found no patch in\n%s", entry, bytesOf(t, patched))
		}
		if unpatched := reread(t, patched); unpatched.HasPatch(entry) {
			t.Fatalf("RemovePatch(%q) wrote\n%s", entry, bytesOf(t, unpatched))
		}
	})
}

// reread writes k and parses what it wrote, as the next pass reads it.
func reread(t *testing.T, k *Kustomization) *Kustomization {
	t.Helper()
	out := bytesOf(t, k)
	again, err := ReadKustomization(tree.FromFS(fstest.MapFS{k.Path: {Data: []byte(out)}}), "o")
	if err != nil {
		t.Fatalf("gitmig wrote a kustomization it cannot read: %v\n%s", err, out)
	}
	return again
}

func bytesOf(t *testing.T, k *Kustomization) string {
	t.Helper()
	data, err := k.Bytes()
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	return string(data)
}

// otherFields is the kustomization without the fields gitmig edits, as YAML.
func otherFields(t *testing.T, k *Kustomization) string {
	t.Helper()
	node := k.node.Copy()
	for _, field := range []string{"resources", "bases", "patches"} {
		if err := node.PipeE(kyaml.Clear(field)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := node.String()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// holdsAll reports whether got holds every entry of want.
func holdsAll(got, want []string) bool {
	for _, w := range want {
		if !slices.Contains(got, w) {
			return false
		}
	}
	return true
}
