package verify

import (
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/tree"
)

// pruneRepo is handMadeTree (clusters west and east, bases base/api and base/web) plus
// extra files, read with gitops.engine set to engine.
func pruneRepo(t *testing.T, engine string, extra map[string]string) (tree.Tree, *config.Config) {
	t.Helper()
	cfg, err := config.Parse([]byte(handMadeConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.GitOps.Engine = engine
	files := handMadeTree()
	for p, content := range extra {
		files[p] = content
	}
	return memTree(files), cfg
}

func application(name, path, syncPolicy string) string {
	return `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: ` + name + `, namespace: argocd}
spec:
  project: fleet
  source: {repoURL: https://github.com/example/fleet.git, targetRevision: main, path: ` + path + `}
  destination: {name: ` + name + `}
` + syncPolicy
}

func fluxKustomization(name, path string, prune bool) string {
	p := "false"
	if prune {
		p = "true"
	}
	return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ` + name + `, namespace: flux-system}
spec:
  interval: 10m
  path: ` + path + `
  prune: ` + p + `
  sourceRef: {kind: GitRepository, name: fleet}
`
}

const (
	pruning    = "  syncPolicy:\n    automated: {prune: true, selfHeal: true}\n"
	notPruning = "  syncPolicy:\n    automated: {selfHeal: true}\n"
)

func TestPruneWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		engine string
		files  map[string]string
		// want lists one substring per expected warning, in order; "" expects none.
		want []string
	}{{
		name:   "argocd: one pruning Application per cluster",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"argocd/apps.yaml": application("west", "clusters/west", pruning) + "---\n" + application("east", "./clusters/east/", pruning),
		},
	}, {
		name:   "argocd: east's Application does not prune",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"argocd/west.yaml": application("west", "clusters/west", pruning),
			"argocd/east.yaml": application("east", "clusters/east", notPruning),
		},
		want: []string{"warning: cluster east: Application east (argocd/east.yaml) applies clusters/east without pruning: step 4 of a migration from east would delete nothing there"},
	}, {
		name:   "argocd: manual sync never prunes",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"apps/all.yaml": application("west", "clusters/west", "") + "---\n" + application("east", "clusters/east", pruning),
		},
		want: []string{"warning: cluster west: Application west (apps/all.yaml)"},
	}, {
		name:   "argocd 3: automated sync turned off",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"apps/all.yaml": application("west", "clusters/west", "  syncPolicy:\n    automated: {enabled: false, prune: true}\n") +
				"---\n" + application("east", "clusters/east", pruning),
		},
		want: []string{"warning: cluster west:"},
	}, {
		name:   "argocd: a second Application that prunes is enough",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"a.yaml": application("east-config", "clusters/east", notPruning),
			"b.yaml": application("west", "clusters/west", pruning) + "---\n" + application("east", "clusters/east", pruning),
		},
	}, {
		name:   "argocd: multi-source Application",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"apps.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: both}
spec:
  sources:
  - {repoURL: https://github.com/example/fleet.git, path: clusters/west}
  - {repoURL: https://github.com/example/fleet.git, path: clusters/east}
  syncPolicy: {automated: {prune: true}}
`,
		},
	}, {
		name:   "argocd: ApplicationSet with a list generator",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"argocd/appset.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet}
spec:
  generators:
  - list:
      elements:
      - {cluster: west}
      - {cluster: east}
  template:
    metadata: {name: '{{cluster}}'}
    spec:
      source: {repoURL: https://github.com/example/fleet.git, path: 'clusters/{{ cluster }}'}
      destination: {name: '{{cluster}}'}
      syncPolicy: {automated: {prune: false, selfHeal: true}}
`,
		},
		want: []string{
			"warning: cluster west: ApplicationSet fleet (argocd/appset.yaml) applies clusters/west without pruning",
			"warning: cluster east: ApplicationSet fleet (argocd/appset.yaml) applies clusters/east without pruning",
		},
	}, {
		name:   "argocd: goTemplate ApplicationSet over git directories, one excluded",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"argocd/appset.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet}
spec:
  goTemplate: true
  generators:
  - git:
      repoURL: https://github.com/example/fleet.git
      revision: main
      directories:
      - path: clusters/*
      - {path: clusters/east, exclude: true}
  template:
    metadata: {name: '{{.path.basename}}'}
    spec:
      source: {repoURL: https://github.com/example/fleet.git, path: '{{.path.path}}'}
      destination: {name: '{{.path.basename}}'}
      syncPolicy: {automated: {prune: true}}
`,
		},
		want: []string{"note: cluster east: no Argo CD Application or ApplicationSet in this repository applies clusters/east"},
	}, {
		name:   "argocd: a template Argo CD fills from elsewhere cannot be resolved",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"argocd/appset.yaml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet}
spec:
  goTemplate: true
  generators: [{clusters: {}}]
  template:
    spec:
      source: {path: 'clusters/{{.name}}'}
      syncPolicy: {automated: {prune: false}}
`,
		},
		want: []string{"note: no Argo CD Application or ApplicationSet in this repository applies a cluster overlay"},
	}, {
		name:   "argocd: nothing found is a single note",
		engine: config.EngineArgoCD,
		want:   []string{"note: no Argo CD Application or ApplicationSet in this repository applies a cluster overlay, so gitmig cannot tell whether argocd prunes"},
	}, {
		name:   "argocd: Flux objects do not count",
		engine: config.EngineArgoCD,
		files: map[string]string{
			"flux/ks.yaml": fluxKustomization("west", "./clusters/west", true) + "---\n" + fluxKustomization("east", "./clusters/east", true),
		},
		want: []string{"note: no Argo CD Application"},
	}, {
		name:   "flux: east does not prune; Argo CD objects do not count",
		engine: config.EngineFlux,
		files: map[string]string{
			"flux/west.yaml":   fluxKustomization("west", "./clusters/west", true),
			"flux/east.yaml":   fluxKustomization("east", "./clusters/east", false),
			"argocd/east.yaml": application("east", "clusters/east", pruning),
		},
		want: []string{"warning: cluster east: Kustomization east (flux/east.yaml) applies clusters/east without pruning: step 4 of a migration from east would delete nothing there, and its gate would wait for pods that never go; set spec.prune: true"},
	}, {
		name:   "flux: nothing found",
		engine: config.EngineFlux,
		files: map[string]string{
			// A kustomize Kustomization is not Flux's, whatever its fields.
			"deploy/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nspec: {path: clusters/west, prune: true}\n",
		},
		want: []string{"note: no Flux Kustomization in this repository applies a cluster overlay, so gitmig cannot tell whether flux prunes; if they live elsewhere, make sure they set spec.prune: true"},
	}, {
		name:   "objects inside overlays and bases are not appliers of the fleet",
		engine: config.EngineFlux,
		files: map[string]string{
			"clusters/west/flux.yaml": fluxKustomization("west", "./clusters/west", false),
			"base/api/flux.yaml":      fluxKustomization("east", "./clusters/east", false),
		},
		want: []string{"note: no Flux Kustomization"},
	}, {
		name:   "YAML that is not an object, or does not parse, is skipped",
		engine: config.EngineFlux,
		files: map[string]string{
			".github/workflows/ci.yml": "on: [push]\njobs: {}\n",
			"notes.yaml":               "- a list\n- not an object\n",
			"broken.yaml":              "a: [unclosed\n---\n" + fluxKustomization("west", "clusters/west", true) + "---\n" + fluxKustomization("east", "clusters/east", true),
		},
	}, {
		name:   "engine none: only what is found is checked",
		engine: config.EngineNone,
		files: map[string]string{
			"ops/west.yaml": fluxKustomization("west", "clusters/west", false),
		},
		want: []string{"warning: cluster west: Kustomization west (ops/west.yaml)"},
	}, {
		name:   "engine none: nothing found says nothing",
		engine: config.EngineNone,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			warnings, err := PruneWarnings(pruneRepo(t, tc.engine, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(tc.want) {
				t.Fatalf("want %d warning(s), got %d:\n%s", len(tc.want), len(warnings), joinWarnings(warnings))
			}
			for i, w := range warnings {
				if !strings.HasPrefix(w.String(), tc.want[i]) {
					t.Errorf("warning %d:\n got %s\nwant %s...", i, w, tc.want[i])
				}
			}
		})
	}
}

func TestAppliersReportsFileKindAndName(t *testing.T) {
	repo, cfg := pruneRepo(t, config.EngineArgoCD, map[string]string{
		"deploy/argocd/fleet.yml": `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: fleet}
spec:
  generators:
  - git:
      directories: [{path: 'clusters/*'}]
  - list:
      elements: [{path: clusters/west}]
  template:
    spec:
      source: {path: '{{path}}'}
      syncPolicy: {automated: {prune: true}}
`,
	})
	found, err := Appliers(repo, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	// Two generators yield clusters/west: still one applier.
	want := Applier{File: "deploy/argocd/fleet.yml", Kind: "ApplicationSet", Name: "fleet", Prunes: true}
	for _, cluster := range []string{"west", "east"} {
		if got := found[cluster]; len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %+v, want [%+v]", cluster, got, want)
		}
	}
}

func TestRenderTemplate(t *testing.T) {
	for _, tc := range []struct {
		tmpl       string
		params     map[string]any
		goTemplate bool
		want       string
		ok         bool
	}{
		{"clusters/{{cluster}}", map[string]any{"cluster": "edge"}, false, "clusters/edge", true},
		{"{{ path }}", map[string]any{"path": "clusters/fog"}, false, "clusters/fog", true},
		{"{{path[0]}}/{{path.basename}}", gitDirectoryParams("clusters/cloud", false), false, "clusters/cloud", true},
		{"clusters/{{missing}}", map[string]any{"cluster": "edge"}, false, "", false},
		{"clusters/{{cluster", map[string]any{"cluster": "edge"}, false, "", false},
		{"{{.path.path}}", gitDirectoryParams("clusters/cloud", true), true, "clusters/cloud", true},
		{"clusters/{{ .cluster }}", map[string]any{"cluster": "edge"}, true, "clusters/edge", true},
		{"clusters/{{.missing}}", map[string]any{"cluster": "edge"}, true, "", false},
		{"clusters/{{ .cluster | lower }}", map[string]any{"cluster": "edge"}, true, "", false},
	} {
		got, ok := renderTemplate(tc.tmpl, tc.params, tc.goTemplate)
		if got != tc.want || ok != tc.ok {
			t.Errorf("renderTemplate(%q, goTemplate %v) = %q, %v; want %q, %v", tc.tmpl, tc.goTemplate, got, ok, tc.want, tc.ok)
		}
	}
}

func joinWarnings(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}
