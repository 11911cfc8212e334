package verify

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"text/template"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/fleet"
	"github.com/gitmig/gitmig/internal/tree"
)

// Warning is something verify reports without failing: the tree is fine, but the way it
// is applied may not be.
type Warning struct {
	Cluster string `json:"cluster,omitempty"`
	Message string `json:"message"`
	// Note marks a softer warning: gitmig could not tell, rather than found a problem.
	Note bool `json:"note,omitempty"`
}

func (w Warning) String() string {
	prefix := "warning"
	if w.Note {
		prefix = "note"
	}
	if w.Cluster == "" {
		return prefix + ": " + w.Message
	}
	return fmt.Sprintf("%s: cluster %s: %s", prefix, w.Cluster, w.Message)
}

// Applier is an Argo CD Application or ApplicationSet, or a Flux Kustomization, found in
// the repository, that applies a cluster's overlay.
type Applier struct {
	// File is the manifest's path relative to the repository root.
	File string
	// Kind is Application, ApplicationSet or Kustomization.
	Kind string
	Name string
	// Prunes reports whether it deletes what the overlay no longer holds.
	Prunes bool
}

func (a Applier) String() string { return fmt.Sprintf("%s %s (%s)", a.Kind, a.Name, a.File) }

// maxManifestSize skips files no one writes by hand, such as vendored CRD bundles.
const maxManifestSize = 1 << 20

// Appliers scans the repository's YAML files outside the overlays and the bases for the
// Argo CD and Flux objects of the engine ("argocd", "flux", or "" for both) that apply
// a cluster's overlay, and returns them by cluster. A file or document that does not
// parse is skipped: most YAML in a repository is not a Kubernetes object.
func Appliers(t tree.Tree, cfg *config.Config, engine string) (map[string][]Applier, error) {
	skip := map[string]bool{}
	overlays := map[string]string{}
	for _, cl := range cfg.Clusters {
		skip[path.Clean(cl.Path)] = true
		overlays[path.Clean(cl.Path)] = cl.Name
	}
	for _, svc := range cfg.Services {
		skip[path.Clean(svc.Base)] = true
	}
	found := map[string][]Applier{}
	err := fs.WalkDir(t, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (skip[p] || d.Name() == ".git") {
				return fs.SkipDir
			}
			// A folder with a gitmig.yaml of its own is another fleet repository (an
			// example, a template): its objects apply its overlays, not these.
			if p != "." {
				if _, err := fs.Stat(t, path.Join(p, "gitmig.yaml")); err == nil {
					return fs.SkipDir
				}
			}
			return nil
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxManifestSize {
			return err
		}
		data, err := t.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		for _, doc := range fleet.Documents(data) {
			for _, a := range appliersIn(doc, engine, overlays) {
				a.applier.File = p
				found[a.cluster] = append(found[a.cluster], a.applier)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning the repository for Argo CD and Flux objects: %w", err)
	}
	return found, nil
}

// PruneWarnings says, per cluster, when the configured engine's objects that apply its
// overlay do not prune. Step 4 of a migration removes the service from the source's
// overlay; without pruning, Argo CD or Flux leaves its Deployment running there, and
// the gate of step 4 waits for pods that never go. When no applier is found at all for
// engine argocd or flux it returns a softer note, since they may live in another
// repository.
func PruneWarnings(t tree.Tree, cfg *config.Config) ([]Warning, error) {
	engine := cfg.GitOps.Engine
	scan := engine
	if engine == config.EngineNone || engine == "" {
		scan = ""
	}
	found, err := Appliers(t, cfg, scan)
	if err != nil {
		return nil, err
	}
	var warnings, unseen []Warning
	for _, cl := range cfg.Clusters {
		appliers := found[cl.Name]
		if len(appliers) == 0 {
			unseen = append(unseen, Warning{Cluster: cl.Name, Note: true})
			continue
		}
		if slices.ContainsFunc(appliers, func(a Applier) bool { return a.Prunes }) {
			continue
		}
		names := make([]string, len(appliers))
		for i, a := range appliers {
			names[i] = a.String()
		}
		warnings = append(warnings, Warning{Cluster: cl.Name, Message: fmt.Sprintf(
			"%s applies %s without pruning: step 4 of a migration from %s would delete nothing there, and its gate would wait for pods that never go; set %s",
			strings.Join(names, ", "), cl.Path, cl.Name, pruneSetting(appliers[0].Kind))})
	}
	if len(unseen) == 0 || (engine != config.EngineArgoCD && engine != config.EngineFlux) {
		return warnings, nil
	}
	what, setting := "Argo CD Application or ApplicationSet", pruneSetting("Application")
	if engine == config.EngineFlux {
		what, setting = "Flux Kustomization", pruneSetting("Kustomization")
	}
	if len(unseen) == len(cfg.Clusters) {
		return append(warnings, Warning{Note: true, Message: fmt.Sprintf(
			"no %s in this repository applies a cluster overlay, so gitmig cannot tell whether %s prunes; if they live elsewhere, make sure they set %s, or step 4 of a migration deletes nothing",
			what, engine, setting)}), nil
	}
	for _, w := range unseen {
		cl, _ := cfg.Cluster(w.Cluster)
		w.Message = fmt.Sprintf("no %s in this repository applies %s; make sure the one that does sets %s, or step 4 of a migration from %s deletes nothing",
			what, cl.Path, setting, cl.Name)
		warnings = append(warnings, w)
	}
	return warnings, nil
}

func pruneSetting(kind string) string {
	if kind == "Kustomization" {
		return "spec.prune: true"
	}
	return "syncPolicy.automated.prune: true"
}

type clusterApplier struct {
	cluster string
	applier Applier
}

// appliersIn returns the overlays that one object applies; overlays maps a cleaned
// overlay path to its cluster.
func appliersIn(doc map[string]any, engine string, overlays map[string]string) []clusterApplier {
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	name, _ := fleet.Lookup(doc, "metadata", "name").(string)
	group, _, _ := strings.Cut(apiVersion, "/")
	var out []clusterApplier
	add := func(p string, prunes bool) {
		if cluster, ok := overlays[cleanPath(p)]; ok {
			out = append(out, clusterApplier{cluster, Applier{Kind: kind, Name: name, Prunes: prunes}})
		}
	}
	switch {
	case group == "argoproj.io" && kind == "Application" && engine != config.EngineFlux:
		spec, _ := doc["spec"].(map[string]any)
		for _, p := range sourcePaths(spec) {
			add(p, argoPrunes(spec))
		}
	case group == "argoproj.io" && kind == "ApplicationSet" && engine != config.EngineFlux:
		spec, _ := doc["spec"].(map[string]any)
		tmpl, _ := fleet.Lookup(spec, "template", "spec").(map[string]any)
		goTemplate, _ := spec["goTemplate"].(bool)
		params := generatorParams(spec, overlays, goTemplate)
		for _, p := range sourcePaths(tmpl) {
			if !strings.Contains(p, "{{") {
				add(p, argoPrunes(tmpl))
				continue
			}
			for _, param := range params {
				if rendered, ok := renderTemplate(p, param, goTemplate); ok {
					add(rendered, argoPrunes(tmpl))
				}
			}
		}
	case group == "kustomize.toolkit.fluxcd.io" && kind == "Kustomization" && engine != config.EngineArgoCD:
		p, _ := fleet.Lookup(doc, "spec", "path").(string)
		prune, _ := fleet.Lookup(doc, "spec", "prune").(bool)
		add(p, prune)
	}
	return dedupe(out)
}

// dedupe keeps one entry per cluster and object: an ApplicationSet whose generators
// yield the same path twice is still one applier.
func dedupe(in []clusterApplier) []clusterApplier {
	var out []clusterApplier
	for _, a := range in {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// cleanPath makes "./clusters/edge/" and "clusters/edge" equal.
func cleanPath(p string) string {
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// sourcePaths returns the paths of an Application spec's source and sources.
func sourcePaths(spec map[string]any) []string {
	var paths []string
	if p, ok := fleet.Lookup(spec, "source", "path").(string); ok {
		paths = append(paths, p)
	}
	sources, _ := spec["sources"].([]any)
	for _, s := range sources {
		if p, ok := fleet.Lookup(s, "path").(string); ok {
			paths = append(paths, p)
		}
	}
	return paths
}

// argoPrunes reads syncPolicy.automated.prune; automated.enabled: false (Argo CD 3)
// turns automated sync, and so pruning, off.
func argoPrunes(spec map[string]any) bool {
	automated, ok := fleet.Lookup(spec, "syncPolicy", "automated").(map[string]any)
	if !ok {
		return false
	}
	if enabled, ok := automated["enabled"].(bool); ok && !enabled {
		return false
	}
	prune, _ := automated["prune"].(bool)
	return prune
}

// generatorParams returns the parameter sets of an ApplicationSet's list and git
// directory generators, as Argo CD would pass them to the template. Other generators
// (clusters, matrix, ...) depend on state outside the repository and are left out.
func generatorParams(spec map[string]any, overlays map[string]string, goTemplate bool) []map[string]any {
	var params []map[string]any
	generators, _ := spec["generators"].([]any)
	for _, g := range generators {
		elements, _ := fleet.Lookup(g, "list", "elements").([]any)
		for _, e := range elements {
			if m, ok := e.(map[string]any); ok {
				params = append(params, m)
			}
		}
		dirs, _ := fleet.Lookup(g, "git", "directories").([]any)
		if len(dirs) == 0 {
			continue
		}
		for overlay := range overlays {
			if matchesDirectories(overlay, dirs) {
				params = append(params, gitDirectoryParams(overlay, goTemplate))
			}
		}
	}
	return params
}

// matchesDirectories applies a git generator's directories: included by a pattern
// without exclude, and by no pattern with exclude: true.
func matchesDirectories(dir string, dirs []any) bool {
	included := false
	for _, d := range dirs {
		pattern, _ := fleet.Lookup(d, "path").(string)
		exclude, _ := fleet.Lookup(d, "exclude").(bool)
		if ok, _ := path.Match(cleanPath(pattern), dir); ok {
			if exclude {
				return false
			}
			included = true
		}
	}
	return included
}

// gitDirectoryParams are the git directory generator's parameters for one folder, in
// the shape of Go templates (path.path, path.basename) or of the older flat templates
// (path, path.basename, path[0]).
func gitDirectoryParams(dir string, goTemplate bool) map[string]any {
	segments := strings.Split(dir, "/")
	base := path.Base(dir)
	normalized := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, base)
	if goTemplate {
		return map[string]any{"path": map[string]any{
			"path": dir, "basename": base, "basenameNormalized": normalized, "segments": segments,
		}}
	}
	params := map[string]any{"path": dir, "path.basename": base, "path.basenameNormalized": normalized}
	for i, s := range segments {
		params[fmt.Sprintf("path[%d]", i)] = s
	}
	return params
}

// renderTemplate expands an ApplicationSet template string the way Argo CD does: with
// text/template when goTemplate is set, else by replacing {{name}} with a parameter.
// It reports false when a name is missing or the template uses functions it lacks.
func renderTemplate(s string, params map[string]any, goTemplate bool) (string, bool) {
	if goTemplate {
		t, err := template.New("path").Option("missingkey=error").Parse(s)
		if err != nil {
			return "", false
		}
		var b strings.Builder
		if err := t.Execute(&b, params); err != nil {
			return "", false
		}
		return b.String(), true
	}
	var b strings.Builder
	for {
		open := strings.Index(s, "{{")
		if open < 0 {
			b.WriteString(s)
			return b.String(), true
		}
		end := strings.Index(s[open:], "}}")
		if end < 0 {
			return "", false
		}
		value, ok := params[strings.TrimSpace(s[open+2:open+end])]
		if !ok {
			return "", false
		}
		b.WriteString(s[:open])
		fmt.Fprint(&b, value)
		s = s[open+end+2:]
	}
}
