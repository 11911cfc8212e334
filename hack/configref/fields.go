package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/gitmig/gitmig/internal/config"
)

// docs holds the doc comments of the struct types of some packages: by package path,
// type name and field name.
type docs map[string]map[string]typeDocs

type typeDocs struct {
	doc    string
	fields map[string]string
}

// loadDocs parses the Go files, tests aside, of the module's packages that define the
// given types.
func loadDocs(root string, types ...reflect.Type) (docs, error) {
	d := docs{}
	for _, t := range types {
		pkg := t.PkgPath()
		if _, ok := d[pkg]; ok {
			continue
		}
		dir := filepath.Join(root, strings.TrimPrefix(pkg, modulePath+"/"))
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("reading the source of %s: %w", pkg, err)
		}
		fset := token.NewFileSet()
		var files []*ast.File
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
		d[pkg] = structDocs(files)
	}
	return d, nil
}

// modulePath is where the module's packages are; reflect names them by import path.
const modulePath = "github.com/gitmig/gitmig"

// structDocs collects the doc comments of the struct types declared in files.
func structDocs(files []*ast.File) map[string]typeDocs {
	out := map[string]typeDocs{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.TYPE {
				continue
			}
			for _, spec := range gen.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				td := typeDocs{doc: ts.Doc.Text(), fields: map[string]string{}}
				if td.doc == "" {
					td.doc = gen.Doc.Text()
				}
				for _, field := range st.Fields.List {
					text := field.Doc.Text()
					if text == "" {
						text = field.Comment.Text()
					}
					for _, name := range field.Names {
						td.fields[name.Name] = text
					}
				}
				out[ts.Name.Name] = td
			}
		}
	}
	return out
}

// field is one row of the reference.
type field struct {
	// path is the field's place in the YAML document, such as clusters[].ingress.dnsName.
	path string
	typ  string
	// def is the default, as YAML would write it; empty when there is none.
	def string
	doc string
	// children are the fields of an object, or of the objects of a list or map.
	children []field
}

var (
	durationType = reflect.TypeFor[config.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// fields lists the fields of the struct type t at path, recursively. defaults is the
// JSON form of the same place in a defaulted document, or nil.
func (d docs) fields(t reflect.Type, path string, defaults any) ([]field, error) {
	td, ok := d[t.PkgPath()][t.Name()]
	if !ok {
		return nil, fmt.Errorf("no source for type %s.%s", t.PkgPath(), t.Name())
	}
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			inlined, err := d.fields(sf.Type, path, defaults)
			if err != nil {
				return nil, err
			}
			out = append(out, inlined...)
			continue
		}
		if name == "" {
			return nil, fmt.Errorf("%s.%s has no json name", t.Name(), sf.Name)
		}
		doc := strings.TrimSpace(td.fields[sf.Name])
		if doc == "" {
			return nil, fmt.Errorf("%s.%s (%s) has no doc comment: write one, it is the reference's text", t.Name(), sf.Name, join(path, name))
		}
		f := field{path: join(path, name), typ: typeName(sf.Type), doc: yamlNames(doc, sf.Name, name)}
		value := lookup(defaults, name)
		f.def = defaultText(sf.Type, value)
		children, err := d.children(sf.Type, f.path, value)
		if err != nil {
			return nil, err
		}
		f.children = children
		out = append(out, f)
	}
	return out, nil
}

// children lists the fields inside a field of type t: those of an object, of each
// object of a list (path[]) or of each value of a map (path.<name>).
func (d docs) children(t reflect.Type, path string, defaults any) ([]field, error) {
	t = deref(t)
	switch {
	case t == durationType || t == timeType:
		return nil, nil
	case t.Kind() == reflect.Struct:
		return d.fields(t, path, defaults)
	case t.Kind() == reflect.Slice && deref(t.Elem()).Kind() == reflect.Struct:
		return d.fields(deref(t.Elem()), path+"[]", first(defaults))
	case t.Kind() == reflect.Map && deref(t.Elem()).Kind() == reflect.Struct:
		return d.fields(deref(t.Elem()), path+".<name>", nil)
	}
	return nil, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// typeName says what a YAML value of type t looks like.
func typeName(t reflect.Type) string {
	t = deref(t)
	switch {
	case t == durationType:
		return "duration"
	case t == timeType:
		return "time (RFC 3339)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "map of " + typeName(t.Elem()) + "s"
	}
	return t.String()
}

// yamlNames makes a doc comment that opens with the Go field's name open with its YAML
// name instead, as the reader writes it.
func yamlNames(doc, goName, yamlName string) string {
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		doc = "`" + yamlName + "` " + rest
	}
	return strings.Join(strings.Fields(doc), " ")
}

// lookup returns the value of key in a JSON object, or nil.
func lookup(v any, key string) any {
	if m, ok := v.(map[string]any); ok {
		return m[key]
	}
	return nil
}

// first returns the first element of a JSON array, or nil.
func first(v any) any {
	if a, ok := v.([]any); ok && len(a) > 0 {
		return a[0]
	}
	return nil
}

// defaultText writes a default as YAML would, or "" for a zero value, which is no
// default.
func defaultText(t reflect.Type, v any) string {
	switch v := v.(type) {
	case string:
		if deref(t) == durationType {
			d, err := time.ParseDuration(v)
			if err != nil || d == 0 {
				return ""
			}
			return shortDuration(d)
		}
		return v
	case float64:
		if v == 0 {
			return ""
		}
		return fmt.Sprint(v)
	case bool:
		if !v {
			return ""
		}
		return "true"
	}
	// A list's or an object's defaults are those of its fields.
	return ""
}

// shortDuration writes 1h rather than time.Duration's 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, zero := range []string{"0s", "0m"} {
		if strings.HasSuffix(s, "m"+zero) || strings.HasSuffix(s, "h"+zero) {
			s = strings.TrimSuffix(s, zero)
		}
	}
	return s
}

// defaultsDocument is gitmig.yaml with every default filled in, as JSON: the defaults
// of list elements are read from the first element, and those of optional sections
// from sections present but empty. The cluster is named <name>, which shows in the
// default of its path; the name itself has no default.
func defaultsDocument() (map[string]any, error) {
	cfg := config.Config{
		Policy:   config.DefaultPolicy(),
		Clusters: []config.Cluster{{Name: "<name>"}},
		GitOps:   config.GitOps{GitHub: &config.GitHub{}, ArgoCD: &config.ArgoCD{}, Flux: &config.Flux{}},
	}
	cfg.Default()
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Clusters []map[string]any `json:"clusters"`
	}
	var whole map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &whole); err != nil {
		return nil, err
	}
	delete(doc.Clusters[0], "name")
	whole["clusters"] = []any{doc.Clusters[0]}
	return whole, nil
}
