package render

import (
	"fmt"
	"path"
	"strings"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitmig/gitmig/internal/tree"
)

// kustomizationFile returns the path of the kustomization file in dir.
func kustomizationFile(t tree.Tree, dir string) (string, error) {
	// The file names kustomize accepts, in its order of preference.
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		p := path.Join(dir, name)
		if info, err := t.Stat(p); err == nil && !info.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: no kustomization.yaml", dir)
}

// Kustomization is a kustomization file parsed with kyaml, so that edits keep the
// user's comments, field order and every entry gitmig does not touch.
type Kustomization struct {
	Path string
	node *kyaml.RNode
	// seqIndent is the file's own list indentation, kept so that untouched lines stay
	// byte for byte as the user wrote them.
	seqIndent kyaml.SequenceIndentStyle
}

// ReadKustomization parses the kustomization file of a folder of t.
func ReadKustomization(t tree.Tree, dir string) (*Kustomization, error) {
	p, err := kustomizationFile(t, dir)
	if err != nil {
		return nil, err
	}
	data, err := t.ReadFile(p)
	if err != nil {
		return nil, err
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if node.YNode().Kind != kyaml.MappingNode {
		return nil, fmt.Errorf("%s: not a YAML mapping", p)
	}
	indent := kyaml.SequenceIndentStyle(kyaml.DeriveSeqIndentStyle(string(data)))
	return &Kustomization{Path: p, node: node, seqIndent: indent}, nil
}

// Resources returns the entries of the resources list, and of the bases list that
// kustomize still reads although it deprecated it.
func (k *Kustomization) Resources() []string {
	return append(k.scalars("resources"), k.scalars("bases")...)
}

// HasResource reports whether the resources list holds entry, compared as clean paths.
func (k *Kustomization) HasResource(entry string) bool {
	for _, r := range k.Resources() {
		if samePath(r, entry) {
			return true
		}
	}
	return false
}

func samePath(a, b string) bool {
	return path.Clean(strings.TrimSuffix(a, "/")) == path.Clean(strings.TrimSuffix(b, "/"))
}

func (k *Kustomization) scalars(field string) []string {
	seq := k.node.Field(field)
	if seq == nil || seq.Value.YNode().Kind != kyaml.SequenceNode {
		return nil
	}
	var out []string
	for _, item := range seq.Value.YNode().Content {
		if item.Kind == kyaml.ScalarNode {
			out = append(out, item.Value)
		}
	}
	return out
}

// AddResource appends entry to the resources list unless it is there already.
func (k *Kustomization) AddResource(entry string) error {
	if k.HasResource(entry) {
		return nil
	}
	seq, err := k.sequence("resources")
	if err != nil {
		return err
	}
	seq.Content = append(seq.Content, &kyaml.Node{Kind: kyaml.ScalarNode, Value: entry, Tag: kyaml.NodeTagString})
	return nil
}

// RemoveResource drops entry from the resources list, or from the deprecated bases
// list, and reports whether it was there.
func (k *Kustomization) RemoveResource(entry string) bool {
	removed := false
	for _, field := range []string{"resources", "bases"} {
		seq := k.node.Field(field)
		if seq == nil || seq.Value.YNode().Kind != kyaml.SequenceNode {
			continue
		}
		items := seq.Value.YNode()
		kept := items.Content[:0]
		for _, item := range items.Content {
			if item.Kind == kyaml.ScalarNode && samePath(item.Value, entry) {
				removed = true
				continue
			}
			kept = append(kept, item)
		}
		items.Content = kept
		if field == "bases" && len(kept) == 0 {
			// An empty bases list left behind is noise, and deprecated noise at that.
			_ = k.node.PipeE(kyaml.Clear("bases"))
		}
	}
	return removed
}

// HasPatch reports whether the patches list holds a patch file at p.
func (k *Kustomization) HasPatch(p string) bool {
	return k.patchIndex(p) >= 0
}

func (k *Kustomization) patchIndex(p string) int {
	seq := k.node.Field("patches")
	if seq == nil || seq.Value.YNode().Kind != kyaml.SequenceNode {
		return -1
	}
	for i, item := range seq.Value.YNode().Content {
		if item.Kind != kyaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "path" && samePath(item.Content[j+1].Value, p) {
				return i
			}
		}
	}
	return -1
}

// AddPatch appends a patch file entry (`- path: p`) unless it is there already.
func (k *Kustomization) AddPatch(p string) error {
	if k.HasPatch(p) {
		return nil
	}
	seq, err := k.sequence("patches")
	if err != nil {
		return err
	}
	seq.Content = append(seq.Content, &kyaml.Node{Kind: kyaml.MappingNode, Content: []*kyaml.Node{
		{Kind: kyaml.ScalarNode, Value: "path", Tag: kyaml.NodeTagString},
		{Kind: kyaml.ScalarNode, Value: p, Tag: kyaml.NodeTagString},
	}})
	return nil
}

// RemovePatch drops the patch file entry for p and reports whether it was there.
func (k *Kustomization) RemovePatch(p string) bool {
	i := k.patchIndex(p)
	if i < 0 {
		return false
	}
	seq := k.node.Field("patches").Value.YNode()
	seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
	if len(seq.Content) == 0 {
		// An empty list left behind is noise in the user's file.
		_ = k.node.PipeE(kyaml.Clear("patches"))
	}
	return true
}

// sequence returns the block sequence under field, creating it when absent.
func (k *Kustomization) sequence(field string) (*kyaml.Node, error) {
	rn, err := k.node.Pipe(kyaml.LookupCreate(kyaml.SequenceNode, field))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", k.Path, field, err)
	}
	// `resources:` with no value is an empty list to kustomize.
	if n := rn.YNode(); n.Kind == kyaml.ScalarNode && n.Tag == kyaml.NodeTagNull {
		n.Kind, n.Tag, n.Value = kyaml.SequenceNode, kyaml.NodeTagSeq, ""
	}
	if rn.YNode().Kind != kyaml.SequenceNode {
		return nil, fmt.Errorf("%s: %s is not a list", k.Path, field)
	}
	// `resources: []` written by hand becomes a block list once it has entries.
	rn.YNode().Style = 0
	return rn.YNode(), nil
}

// Bytes encodes the kustomization with kyaml's formatting.
func (k *Kustomization) Bytes() ([]byte, error) {
	data, err := kyaml.MarshalWithOptions(k.node.Document(), &kyaml.EncoderOptions{SeqIndent: k.seqIndent})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Path, err)
	}
	return data, nil
}

// Edit returns the edit that writes the kustomization back.
func (k *Kustomization) Edit() (tree.Edit, error) {
	data, err := k.Bytes()
	if err != nil {
		return tree.Edit{}, err
	}
	return tree.Edit{Path: k.Path, Content: data}, nil
}
