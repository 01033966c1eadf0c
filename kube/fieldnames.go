package kube

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// fieldNames caches the OpenAPI v3 document of each group version that FieldNames read:
// it is asked only when the API server refused a field it does not know, and one push
// may misspell many fields of one kind.
type fieldNames struct {
	mu   sync.Mutex
	docs map[schema.GroupVersion]map[string]any // components.schemas of the group version
}

// FieldNames returns the names of the fields the cluster's schema of gvk declares at path
// (the fields of the object at path: nil for the top level, {"spec"}, {"spec",
// "template", "spec", "containers"} for a container's), for "did you mean" when it refused
// one. A path that leads through a list steps into its items. It returns nil, with no
// error, for a path the schema does not describe (a free-form map).
func (c *Client) FieldNames(gvk schema.GroupVersionKind, path []string) ([]string, error) {
	schemas, err := c.mapper.fields.schemas(c, gvk.GroupVersion())
	if err != nil {
		return nil, err
	}
	var s map[string]any
	for _, def := range schemas {
		d, _ := def.(map[string]any)
		if declaresGVK(d, gvk) {
			s = d
			break
		}
	}
	for _, seg := range path {
		s = resolve(schemas, s)
		if items, ok := s["items"].(map[string]any); ok {
			s = resolve(schemas, items)
		}
		props, _ := s["properties"].(map[string]any)
		s, _ = props[seg].(map[string]any)
	}
	s = resolve(schemas, s)
	if items, ok := s["items"].(map[string]any); ok {
		s = resolve(schemas, items)
	}
	props, _ := s["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	return names, nil
}

func (f *fieldNames) schemas(c *Client, gv schema.GroupVersion) (map[string]any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.docs[gv]; ok {
		return s, nil
	}
	paths, err := c.mapper.cached.OpenAPIV3().Paths()
	if err != nil {
		return nil, fmt.Errorf("openapi v3: %w", err)
	}
	key := "apis/" + gv.Group + "/" + gv.Version
	if gv.Group == "" {
		key = "api/" + gv.Version
	}
	p, ok := paths[key]
	if !ok {
		return nil, fmt.Errorf("openapi v3: the cluster serves no schema of %s", gv)
	}
	raw, err := p.Schema("application/json")
	if err != nil {
		return nil, fmt.Errorf("openapi v3 of %s: %w", gv, err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("openapi v3 of %s: %w", gv, err)
	}
	if f.docs == nil {
		f.docs = map[schema.GroupVersion]map[string]any{}
	}
	f.docs[gv] = doc.Components.Schemas
	return doc.Components.Schemas, nil
}

// declaresGVK says whether the schema d is the one of gvk's objects.
func declaresGVK(d map[string]any, gvk schema.GroupVersionKind) bool {
	list, _ := d["x-kubernetes-group-version-kind"].([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		if m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind {
			return true
		}
	}
	return false
}

// resolve follows s's $ref (or that of its single allOf, as the API server writes a
// referenced type with a description) to its definition in schemas.
func resolve(schemas map[string]any, s map[string]any) map[string]any {
	for i := 0; i < 8 && s != nil; i++ {
		ref, _ := s["$ref"].(string)
		if all, ok := s["allOf"].([]any); ok && ref == "" && len(all) == 1 {
			inner, _ := all[0].(map[string]any)
			ref, _ = inner["$ref"].(string)
		}
		if ref == "" {
			return s
		}
		s, _ = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	return s
}
