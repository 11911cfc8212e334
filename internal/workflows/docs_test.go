package workflows

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	// markdownFile is a file name ending in .md, as a comment cites one.
	markdownFile = regexp.MustCompile(`[\w./-]*\w\.md\b`)
	// docSection is a citation of a section: (docs/design.md, Traps).
	docSection = regexp.MustCompile(`(docs/[\w-]+\.md),\s+([A-Z][\w ']*)\)`)
)

// TestCodeCitesOnlyDocsInTheRepository: every Markdown file a Go comment names is in
// the repository, at that path from the root or from the Go file's folder, and every
// section it names in docs/ is a heading there. A reader of the code can follow every
// citation.
func TestCodeCitesOnlyDocsInTheRepository(t *testing.T) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		var comments strings.Builder
		for _, c := range f.Comments {
			comments.WriteString(c.Text())
		}
		src := comments.String()
		for _, name := range markdownFile.FindAllString(src, -1) {
			if !exists(filepath.Join(root, name)) && !exists(filepath.Join(filepath.Dir(path), name)) {
				t.Errorf("%s cites %s, which is not in the repository", rel(path), name)
			}
		}
		for _, m := range docSection.FindAllStringSubmatch(src, -1) {
			doc, section := m[1], m[2]
			headings, err := os.ReadFile(filepath.Join(root, doc))
			if err != nil {
				continue // reported above
			}
			if !regexp.MustCompile(`(?m)^#+ ` + regexp.QuoteMeta(section) + `$`).Match(headings) {
				t.Errorf("%s cites the section %q of %s, which has no such heading", rel(path), section, doc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func rel(path string) string {
	r, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return r
}
