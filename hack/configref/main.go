// Command configref writes docs/config-reference.md, the reference of gitmig.yaml and
// of the MetricsSnapshot file, from the Go types that read them: each field's YAML name
// (its json tag), its type, its default (what config.Default fills in) and its doc
// comment, which must exist. Run it from the module root after changing a field:
//
//	go run ./hack/configref
//
// or `go generate ./internal/config`. A test fails when the committed file is not what
// it writes.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	root := flag.String("root", ".", "the module root")
	out := flag.String("o", "docs/config-reference.md", "the file to write, relative to the current folder")
	flag.Parse()
	data, err := Generate(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "configref:", err)
		os.Exit(1)
	}
}
