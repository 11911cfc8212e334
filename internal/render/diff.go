package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/gitmig/gitmig/internal/fleet"
)

// ObjectChange is how one rendered object differs between two builds of a cluster.
type ObjectChange struct {
	// Action is "added", "changed" or "removed".
	Action string
	Ref    string
	// Diff is a unified diff of the object's YAML.
	Diff string
}

// DiffBuilds compares two builds of one cluster object by object, in a stable order.
func DiffBuilds(cluster string, before, after *fleet.Build) ([]ObjectChange, error) {
	old, err := objectsByRef(before)
	if err != nil {
		return nil, err
	}
	cur, err := objectsByRef(after)
	if err != nil {
		return nil, err
	}
	refs := slices.Sorted(maps.Keys(old))
	refs = append(refs, slices.Collect(maps.Keys(cur))...)
	slices.Sort(refs)
	refs = slices.Compact(refs)
	var changes []ObjectChange
	for _, ref := range refs {
		a, inOld := old[ref]
		b, inNew := cur[ref]
		if a == b {
			continue
		}
		action := "changed"
		switch {
		case !inOld:
			action = "added"
		case !inNew:
			action = "removed"
		}
		diff, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(a), B: lines(b),
			FromFile: label(cluster, ref, inOld), ToFile: label(cluster, ref, inNew),
			Context: 3,
		})
		if err != nil {
			return nil, fmt.Errorf("diffing %s: %w", ref, err)
		}
		changes = append(changes, ObjectChange{Action: action, Ref: ref, Diff: diff})
	}
	return changes, nil
}

func label(cluster, ref string, present bool) string {
	if !present {
		return "/dev/null"
	}
	return cluster + "/" + ref
}

func objectsByRef(b *fleet.Build) (map[string]string, error) {
	out := map[string]string{}
	if b == nil {
		return out, nil
	}
	for _, o := range b.Objects {
		raw, err := o.Raw()
		if err != nil {
			return nil, err
		}
		data, err := yaml.Marshal(raw)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", o.Ref(), err)
		}
		ref := o.Ref()
		if g := o.Group(); g != "" {
			// Two kinds of the same name in different groups are different objects.
			ref = strings.Replace(ref, o.Kind, o.Kind+"."+g, 1)
		}
		out[ref] = string(data)
	}
	return out, nil
}

// lines splits YAML into lines for difflib; an absent object has none.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	return difflib.SplitLines(s)
}
