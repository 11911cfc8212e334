// Package example lays out gitmig's built-in example fleet (the gitmig.yaml, bases and
// overlays at the repository root, embedded in package gitmig) for the demo and the
// tests: as a work tree, or as a bare remote, with a gitmig.yaml that uses the local
// forge on that remote and counts a merged step as applied.
package example

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gitmig/gitmig"
	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/gitops"
	"github.com/gitmig/gitmig/internal/gitops/workspace"
	"github.com/gitmig/gitmig/internal/tree"
)

// Files returns the example's files with its gitmig.yaml rewritten by LocalConfig.
func Files(remote string) (tree.Tree, error) {
	example := tree.FromFS(gitmig.Example)
	data, err := example.ReadFile("gitmig.yaml")
	if err != nil {
		return nil, err
	}
	cfg, err := LocalConfig(data, remote)
	if err != nil {
		return nil, err
	}
	return tree.With(example, []tree.Edit{{Path: "gitmig.yaml", Content: cfg}}), nil
}

// LocalConfig rewrites a gitmig.yaml's gitops section, comments kept, for the local
// forge on remote (a path, relative to the work tree, or a URL) with engine none.
func LocalConfig(data []byte, remote string) ([]byte, error) {
	node, err := kyaml.Parse(string(data))
	if err != nil {
		return nil, err
	}
	gitopsNode, err := node.Pipe(kyaml.Lookup("gitops"))
	if err != nil || gitopsNode == nil {
		return nil, fmt.Errorf("gitmig.yaml has no gitops section")
	}
	for _, field := range [][2]string{{"remote", remote}, {"forge", config.ForgeLocal}, {"engine", config.EngineNone}} {
		if err := gitopsNode.PipeE(kyaml.SetField(field[0], kyaml.NewStringRNode(field[1]))); err != nil {
			return nil, err
		}
	}
	for _, field := range []string{"github", "argocd", "flux"} {
		if err := gitopsNode.PipeE(kyaml.Clear(field)); err != nil {
			return nil, err
		}
	}
	s, err := node.String()
	return []byte(s), err
}

// WriteTree writes the example into dir as a work tree whose gitmig.yaml names remote.
func WriteTree(dir, remote string) error {
	files, err := Files(remote)
	if err != nil {
		return err
	}
	return os.CopyFS(dir, files)
}

// Seed creates a bare repository at path whose main branch holds the example in one
// commit made at when, its gitmig.yaml naming remote, and returns that configuration.
// remote is path itself for a repository used on its own, or the path relative to a
// work tree that WriteTree lays out beside it.
func Seed(path, remote string, when time.Time) (*config.Config, error) {
	files, err := Files(remote)
	if err != nil {
		return nil, err
	}
	if _, err := workspace.Seed(path, "main", files, gitops.DefaultAuthorName, gitops.DefaultAuthorEmail, when); err != nil {
		return nil, err
	}
	data, err := files.ReadFile("gitmig.yaml")
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(path, "gitmig.yaml"), err)
	}
	return cfg, cfg.Validate(files)
}
