package render

import (
	"bytes"
	"errors"
	"io"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// localize is the second fence after checkKustomization. krusty (v0.21.2) takes no
// loader, cloner or HTTP client from its caller: a reference it parses as a repository
// makes it run the git on PATH, an http(s) one makes it GET, both before it looks at the
// file system it was given. But it never parses a reference that starts with "./" as
// either. So every path in the in-memory copy's kustomizations, and in the generator,
// transformer and validator configurations they name, is rewritten to start with "./": a
// remote form the checks did not know fails as a missing file instead of being fetched.
// The pushed tree is not touched; problems were located on the original text before.
func (r *renderer) localize(mem filesys.FileSystem, kusts []string) error {
	for _, k := range kusts {
		p := path.Join(memRoot, k)
		data, err := mem.ReadFile(p)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil || obj == nil {
			continue // checkKustomization reported it; krusty will too
		}
		localizeKustomization(obj)
		for _, f := range []string{"generators", "transformers", "validators"} {
			if err := r.localizePluginConfigs(mem, path.Dir(k), obj, f); err != nil {
				return err
			}
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			return err
		}
		if err := mem.WriteFile(p, out); err != nil {
			return err
		}
	}
	return nil
}

// localizeKustomization rewrites the path fields of one kustomization.
func localizeKustomization(k map[string]any) {
	for _, f := range refLists {
		localizeList(k, f, localRef)
	}
	for _, f := range refItems {
		for _, it := range maps(k[f]) {
			localizeString(it, "path")
		}
	}
	if o, ok := k["openapi"].(map[string]any); ok {
		localizeString(o, "path")
	}
	for _, f := range generatorFields {
		for _, g := range maps(k[f]) {
			localizeList(g, "files", localFileSource)
			localizeList(g, "envs", localRef)
			localizeString(g, "env")
		}
	}
}

// localizePluginConfigs rewrites the configurations of one plugin list: inline ones in
// place, files of them where they lie.
func (r *renderer) localizePluginConfigs(mem filesys.FileSystem, dir string, k map[string]any, field string) error {
	list, _ := k[field].([]any)
	for i, it := range list {
		entry, ok := it.(string)
		if !ok {
			continue
		}
		if strings.Contains(entry, "\n") {
			if out, ok := localizeDocs([]byte(entry)); ok {
				list[i] = string(out)
			}
			continue
		}
		p := path.Join(memRoot, dir, strings.TrimSpace(entry))
		if !mem.Exists(p) || mem.IsDir(p) {
			continue // a kustomization directory is localized as one; a missing file fails
		}
		data, err := mem.ReadFile(p)
		if err != nil {
			return err
		}
		if out, ok := localizeDocs(data); ok {
			if err := mem.WriteFile(p, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// localizeDocs rewrites the path fields of every configuration in a YAML stream. It
// reports false when the stream does not decode (krusty will say so).
func localizeDocs(data []byte) ([]byte, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for {
		var doc any
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, false
		}
		localizePluginPaths(doc)
		if err := enc.Encode(doc); err != nil {
			return nil, false
		}
	}
	if err := enc.Close(); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// localizePluginPaths rewrites the fields checkPluginPaths checks, anywhere in v.
func localizePluginPaths(v any) {
	switch v := v.(type) {
	case map[string]any:
		for key, val := range v {
			switch {
			case key == "files":
				localizeList(v, key, localFileSource)
			case slices.Contains(pluginPathKeys, key):
				localizeString(v, key)
				localizeList(v, key, localRef)
			default:
				localizePluginPaths(val)
			}
		}
	case []any:
		for _, it := range v {
			localizePluginPaths(it)
		}
	}
}

func localizeString(m map[string]any, key string) {
	if s, ok := m[key].(string); ok {
		m[key] = localRef(s)
	}
}

func localizeList(m map[string]any, key string, fn func(string) string) {
	list, _ := m[key].([]any)
	for i, it := range list {
		if s, ok := it.(string); ok {
			list[i] = fn(s)
		}
	}
}

// localRef is ref as a path kustomize cannot take for anything remote. Inline content and
// absolute paths (refused by the checks) are left as they are.
func localRef(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" || strings.Contains(ref, "\n") || path.IsAbs(ref) || strings.HasPrefix(ref, "./") {
		return ref
	}
	return "./" + ref
}

// localFileSource is localRef for a generator's files entry, "path" or "key=path".
func localFileSource(s string) string {
	if key, p, ok := strings.Cut(s, "="); ok {
		return key + "=" + localRef(p)
	}
	return localRef(s)
}
