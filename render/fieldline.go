package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFieldLineFile bounds the file FieldLines parses again. It only ever reads a file that
// rendering already read within its own bounds; this is a second guard.
const maxFieldLineFile = 16 << 20

// FieldLines finds the line of a field inside an object that Render reported at a Source
// of a plain YAML or JSON file, so that a refusal that names a field, such as the API
// server's "spec.replicas: Invalid value", points at the field's own line. It parses each
// file once, however many of its objects are refused. It does not render: it reads files
// whose lines are the pushed file's lines (plain manifests, and a Kustomize build's
// resource files and patches, see Locator). Not safe for concurrent use.
type FieldLines struct {
	fsys  fs.FS
	files map[string]map[int]*yaml.Node // file -> line of an object's first key -> object
}

// NewFieldLines returns a FieldLines reading files from fsys (the pushed tree).
func NewFieldLines(fsys fs.FS) *FieldLines {
	return &FieldLines{fsys: fsys, files: map[string]map[int]*yaml.Node{}}
}

// Line returns the line of field in the object at src. field is a path as the API server
// writes it: "spec.template.spec.containers[0].image" (list index),
// ".spec.ports[port=80,protocol=\"TCP\"].name" (server-side apply's list keys), with or
// without the leading dot. The walk stops at the deepest field it finds; ok is false when
// not even the first one is there, or the file cannot be read again.
func (f *FieldLines) Line(src Source, field string) (line int, ok bool) {
	line, _ = f.walk(src, fieldSegments(field))
	return line, line > 0
}

// object returns the object (or JSON 6902 list of operations) at src, nil if there is none.
func (f *FieldLines) object(src Source) *yaml.Node {
	if src.File == "" || src.Line <= 0 {
		return nil
	}
	objs, seen := f.files[src.File]
	if !seen {
		objs = objectsByLine(f.fsys, src.File)
		f.files[src.File] = objs
	}
	return objs[src.Line]
}

// walk follows segs in the object at src as far as it can: the line of the deepest field
// it reaches, and whether that is the last one.
func (f *FieldLines) walk(src Source, segs []segment) (line int, complete bool) {
	obj := f.object(src)
	if obj == nil {
		return 0, false
	}
	return walkNode(&node{obj}, segs)
}

func walkNode(n *node, segs []segment) (line int, complete bool) {
	for i, seg := range segs {
		next, keyLine := n.step(seg)
		if next == nil {
			return line, false
		}
		n, line = next, keyLine
		if i == len(segs)-1 {
			return line, true
		}
	}
	return line, len(segs) == 0
}

// objectsByLine parses file and indexes its objects (documents, and the items of Lists)
// by the line of their first key, as Render's Source gives it; a document that is a list
// (of JSON 6902 operations) by the line of its first item. In a kustomization it indexes
// the inline patches too, at their lines in it. nil if the file cannot be read.
func objectsByLine(fsys fs.FS, file string) map[int]*yaml.Node {
	roots := documentRoots(fsys, file)
	if roots == nil {
		return nil
	}
	objs := map[int]*yaml.Node{}
	for _, root := range roots {
		objs[root.Line] = root
		if root.Kind != yaml.MappingNode {
			continue
		}
		if isKustomization(file) {
			for _, d := range inlinePatchDocs(root) {
				objs[d.Line] = d
			}
		}
		if items, _ := (&node{root}).step(segment{key: "items", index: -1}); items != nil && items.Kind == yaml.SequenceNode {
			for _, it := range items.Content {
				if it.Kind == yaml.MappingNode {
					objs[it.Line] = it
				}
			}
		}
	}
	return objs
}

// documentRoots parses file into the roots of its documents that are mappings or lists,
// in order; nil if it cannot be read. A syntax error ends the list: Render reported it.
func documentRoots(fsys fs.FS, file string) []*yaml.Node {
	fi, err := fs.Stat(fsys, file)
	if err != nil || fi.IsDir() || fi.Size() > maxFieldLineFile {
		return nil
	}
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil
	}
	return decodeRoots(data)
}

// decodeRoots is documentRoots of a stream in memory; never nil.
func decodeRoots(data []byte) []*yaml.Node {
	roots := []*yaml.Node{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return roots // io.EOF, or a syntax error
		}
		root := &doc
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = root.Content[0]
		}
		if root.Kind == yaml.MappingNode || root.Kind == yaml.SequenceNode {
			roots = append(roots, root)
		}
	}
}

// segment is one step of a field path: a key, then an optional list index or list keys.
type segment struct {
	key      string
	index    int               // -1: none
	selector map[string]string // list keys, [name="web"]; when both are set, the keys decide
	last     bool              // the item is the last of its list in the rendered object
}

// fieldSegments splits "a.b[0].c[name=\"x\"]" into its steps.
func fieldSegments(field string) []segment {
	field = strings.TrimPrefix(strings.TrimSpace(field), ".")
	var out []segment
	for field != "" {
		end := strings.IndexAny(field, ".[")
		if end < 0 {
			end = len(field)
		}
		seg := segment{key: field[:end], index: -1}
		field = field[end:]
		for strings.HasPrefix(field, "[") {
			close := closingBracket(field)
			if close < 0 {
				return append(out, seg)
			}
			inner := field[1:close]
			field = field[close+1:]
			if i, err := strconv.Atoi(inner); err == nil {
				seg.index = i
			} else {
				seg.selector = listKeys(inner)
			}
			out = append(out, seg)
			seg = segment{index: -1}
		}
		if seg.key != "" {
			out = append(out, seg)
		}
		field = strings.TrimPrefix(field, ".")
	}
	return out
}

// closingBracket finds the "]" that ends the selector at the start of s, skipping quoted text.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quoted:
			i++
		case s[i] == '"':
			quoted = !quoted
		case s[i] == ']' && !quoted:
			return i
		}
	}
	return -1
}

// listKeys parses `name="web",port=80` (values quoted or not).
func listKeys(s string) map[string]string {
	keys := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		keys[strings.TrimSpace(k)] = v
	}
	return keys
}

// node wraps a yaml.Node with path steps. Aliases are followed.
type node struct{ *yaml.Node }

// step follows seg from n; it returns the node reached and the line that names it (the
// key's line for a mapping entry, the item's line for a list element).
func (n *node) step(seg segment) (*node, int) {
	cur, line := n, 0
	if seg.key != "" {
		v, keyLine := cur.value(seg.key)
		if v == nil {
			return nil, 0
		}
		cur, line = v, keyLine
	}
	switch {
	case seg.index >= 0 && seg.selector == nil:
		if cur.Kind != yaml.SequenceNode || seg.index >= len(cur.Content) {
			return nil, 0
		}
		it := resolve(cur.Content[seg.index])
		return &node{it}, it.Line
	case seg.selector != nil:
		if cur.Kind != yaml.SequenceNode {
			return nil, 0
		}
		for _, it := range cur.Content {
			it = resolve(it)
			if (&node{it}).matches(seg.selector) {
				return &node{it}, it.Line
			}
		}
		return nil, 0
	}
	return cur, line
}

// value returns the value of key in mapping n and the key's line.
func (n *node) value(key string) (*node, int) {
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return &node{resolve(n.Content[i+1])}, n.Content[i].Line
		}
	}
	return nil, 0
}

// matches says whether mapping n has every key of sel with its value.
func (n *node) matches(sel map[string]string) bool {
	for k, want := range sel {
		v, _ := n.value(k)
		if v == nil || v.Kind != yaml.ScalarNode || v.Value != want {
			return false
		}
	}
	return true
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// valueAt is the value at the field path segs in a decoded object (maps, lists and
// scalars, as in unstructured content); ok is false when the path is not there.
func valueAt(obj map[string]any, segs []segment) (v any, ok bool) {
	v = obj
	for _, seg := range segs {
		if seg.key != "" {
			m, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			if v, ok = m[seg.key]; !ok {
				return nil, false
			}
		}
		switch {
		case seg.index >= 0:
			l, isList := v.([]any)
			if !isList || seg.index >= len(l) {
				return nil, false
			}
			v = l[seg.index]
		case seg.selector != nil:
			l, isList := v.([]any)
			if !isList {
				return nil, false
			}
			if v = itemWith(l, seg.selector); v == nil {
				return nil, false
			}
		}
	}
	return v, true
}

// itemWith is the first mapping of l with every key of sel at its value, or nil.
func itemWith(l []any, sel map[string]string) any {
	for _, it := range l {
		m, isMap := it.(map[string]any)
		if !isMap {
			continue
		}
		match := true
		for k, want := range sel {
			if got, has := m[k]; !has || fmt.Sprint(got) != want {
				match = false
				break
			}
		}
		if match {
			return m
		}
	}
	return nil
}
