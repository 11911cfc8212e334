package render

import (
	"strings"
)

// FileChange is one file a step adds (A), modifies (M) or deletes (D).
type FileChange struct {
	Status string
	Path   string
}

// Preview is what a step changes, in files and in the rendered objects of its cluster.
type Preview struct {
	Change  *Change
	Files   []FileChange
	Objects []ObjectChange
}

// Preview compares the change's cluster build before and after the change.
func (r *Repo) Preview(change *Change) (*Preview, error) {
	p := &Preview{Change: change}
	for _, e := range change.Edits {
		status := "M"
		switch {
		case e.Delete:
			status = "D"
		case !r.Exists(e.Path):
			status = "A"
		}
		p.Files = append(p.Files, FileChange{Status: status, Path: e.Path})
	}
	before, err := r.Build(change.Cluster)
	if err != nil {
		return nil, err
	}
	afterRepo, err := r.With(change.Edits)
	if err != nil {
		return nil, err
	}
	after, err := afterRepo.Build(change.Cluster)
	if err != nil {
		return nil, err
	}
	p.Objects, err = DiffBuilds(before, after)
	return p, err
}

// InProgressID returns the id gitmig wrote on the objects of an unfinished migration of
// service from one cluster to another, or "" when there is none.
func (m *Model) InProgressID(service, from, to string) string {
	prefix := service + "-" + from + "-to-" + to + "-"
	latest := ""
	for _, b := range m.Builds {
		for _, o := range b.Objects {
			id := annotation(o, AnnotationMigration)
			if strings.HasPrefix(id, prefix) && id > latest {
				latest = id
			}
		}
	}
	return latest
}

func annotation(o Object, key string) string {
	meta, _ := o.Raw["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	value, _ := annotations[key].(string)
	return value
}
