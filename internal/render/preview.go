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

// Preview compares the builds of the clusters the change edits, before and after it.
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
	if p.Objects, err = DiffBuilds(c.Cluster, c.Before.Build(c.Cluster), c.After.Build(c.Cluster)); err != nil {
		return nil, err
	}
	// The objects of the other clusters the step edits name their cluster, as the
	// step's own cluster is the one reviewers expect.
	for _, cluster := range c.Repointed {
		objects, err := DiffBuilds(cluster, c.Before.Build(cluster), c.After.Build(cluster))
		if err != nil {
			return nil, err
		}
		for i := range objects {
			objects[i].Ref = cluster + ": " + objects[i].Ref
		}
		p.Objects = append(p.Objects, objects...)
	}
	return p, nil
}
