package fleet

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Documents decodes the documents of a YAML stream that are mappings into nested
// maps; the others, empty or not YAML, are left out, since a repository holds YAML
// that is not Kubernetes objects.
func Documents(data []byte) []map[string]any {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []map[string]any
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) || err != nil {
			return docs
		}
		var doc map[string]any
		if yaml.Unmarshal(raw, &doc) == nil && doc != nil {
			docs = append(docs, doc)
		}
	}
}

// Lookup follows keys through nested maps; nil when any is missing.
func Lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
