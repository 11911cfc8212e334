package render

import (
	"bytes"
	"fmt"
	"sort"

	"sigs.k8s.io/yaml"
)

// Edit is one file change, its path relative to the repository root.
type Edit struct {
	Path    string
	Content []byte
	Delete  bool
}

// edits collects file changes in order; a later change to a path replaces an earlier one.
type edits struct {
	list []Edit
}

func (e *edits) write(path string, content []byte) {
	e.put(Edit{Path: path, Content: content})
}

func (e *edits) delete(path string) {
	e.put(Edit{Path: path, Delete: true})
}

func (e *edits) put(edit Edit) {
	for i := range e.list {
		if e.list[i].Path == edit.Path {
			e.list[i] = edit
			return
		}
	}
	e.list = append(e.list, edit)
}

// writeObjects writes objects to path as a multi-document YAML file.
func (e *edits) writeObjects(path string, objects ...any) error {
	var buf bytes.Buffer
	for i, o := range objects {
		data, err := yaml.Marshal(o)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", path, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(data)
	}
	e.write(path, buf.Bytes())
	return nil
}

func (e *edits) sorted() []Edit {
	out := append([]Edit(nil), e.list...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
