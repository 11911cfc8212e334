package render

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/tree"
)

// edits collects file changes in order; a later change to a path replaces an earlier one.
type edits struct {
	list []tree.Edit
}

func (e *edits) write(path string, content []byte) {
	e.put(tree.Edit{Path: path, Content: content})
}

func (e *edits) delete(path string) {
	e.put(tree.Edit{Path: path, Delete: true})
}

func (e *edits) put(edit tree.Edit) {
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

func (e *edits) sorted() []tree.Edit {
	out := slices.Clone(e.list)
	slices.SortStableFunc(out, func(a, b tree.Edit) int { return strings.Compare(a.Path, b.Path) })
	return out
}
