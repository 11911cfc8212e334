package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gitmig/gitmig/internal/config"
	"github.com/gitmig/gitmig/internal/metrics"
)

// TestReferenceIsCurrent fails when docs/config-reference.md is not what the generator
// writes from today's types, doc comments and defaults.
func TestReferenceIsCurrent(t *testing.T) {
	want, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/config-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/config-reference.md is stale: run go run ./hack/configref at the module root and commit the result")
	}
}

// TestReferenceCoversEveryConfigField: every YAML field of gitmig.yaml and of a
// MetricsSnapshot, found by walking their types with reflect, has a row or a heading.
func TestReferenceCoversEveryConfigField(t *testing.T) {
	ref, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for i := range typ.NumField() {
			sf := typ.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			ft := deref(sf.Type)
			if sf.Anonymous {
				walk(ft, path)
				continue
			}
			p := join(path, name)
			if !bytes.Contains(ref, []byte("`"+p+"`")) {
				t.Errorf("the reference has no row for %s", p)
			}
			switch {
			case ft == durationType, ft == timeType:
			case ft.Kind() == reflect.Struct:
				walk(ft, p)
			case ft.Kind() == reflect.Slice && deref(ft.Elem()).Kind() == reflect.Struct:
				walk(deref(ft.Elem()), p+"[]")
			case ft.Kind() == reflect.Map && deref(ft.Elem()).Kind() == reflect.Struct:
				walk(deref(ft.Elem()), p+".<name>")
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	walk(reflect.TypeFor[metrics.Snapshot](), "")
}

// TestDefaultsAreTheConfigDefaults checks a few rows against the values gitmig applies.
func TestDefaultsAreTheConfigDefaults(t *testing.T) {
	ref, err := Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| `clusters[].path` | string | `clusters/<name>` |",
		"| `policy.overload.cpu` | number | `0.8` |",
		"| `policy.cooldown` | duration | `1h` |",
		"| `policy.prometheus.timeout` | duration | `30s` |",
		"| `gitops.flux.namespace` | string | `flux-system` |",
		"| `policy.queries.cpuUsage` | string | [below](#default-queries) |",
		"| `services[].pinned` | boolean |  |",
	} {
		if !bytes.Contains(ref, []byte(row)) {
			t.Errorf("the reference lacks the row %q", row)
		}
	}
}

// TestUndocumentedFieldIsAnError: a field without a doc comment stops the generator,
// naming it, rather than leaving a blank in the reference.
func TestUndocumentedFieldIsAnError(t *testing.T) {
	const src = `package sample

// Sample is a document.
type Sample struct {
	// Documented says something.
	Documented string ` + "`json:\"documented\"`" + `
	Bare string ` + "`json:\"bare\"`" + `
}
`
	f, err := parser.ParseFile(token.NewFileSet(), "sample.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeFor[sample]()
	d := docs{typ.PkgPath(): renamed(structDocs([]*ast.File{f}), "Sample", typ.Name())}
	_, err = d.fields(typ, "", nil)
	if err == nil || !strings.Contains(err.Error(), "sample.Bare (bare) has no doc comment") {
		t.Fatalf("err = %v, want it to name sample.Bare (bare)", err)
	}
}

type sample struct {
	Documented string `json:"documented"`
	Bare       string `json:"bare"`
}

func renamed(m map[string]typeDocs, from, to string) map[string]typeDocs {
	m[to] = m[from]
	return m
}
