package render

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
func (c *Change) Preview() (*Preview, error) {
	p := &Preview{Change: c}
	for _, e := range c.Edits {
		status := "M"
		switch {
		case e.Delete:
			status = "D"
		default:
			if _, err := c.Before.Tree.Stat(e.Path); err != nil {
				status = "A"
			}
		}
		p.Files = append(p.Files, FileChange{Status: status, Path: e.Path})
	}
	var err error
	p.Objects, err = DiffBuilds(c.Cluster, c.Before.Build(c.Cluster), c.After.Build(c.Cluster))
	return p, err
}
