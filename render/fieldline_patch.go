package render

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kustomize's patches, for FieldLines: where they are written in a kustomization, and
// which of their lines sets a field.

// patchEntry is one patch a kustomization names.
type patchEntry struct {
	path   string     // the patch file, relative to the kustomization; "" when inline
	inline *yaml.Node // the inline patch's text, nil for a file
	target *yaml.Node // the entry's target, nil when it has none
}

// patchEntries lists the patches of kustomization k in the order kustomize applies them:
// patchesStrategicMerge, patches, patchesJson6902.
func patchEntries(k *yaml.Node) []patchEntry {
	var out []patchEntry
	if l, _ := (&node{k}).value("patchesStrategicMerge"); l != nil && l.Kind == yaml.SequenceNode {
		for _, it := range l.Content {
			if it = resolve(it); it.Kind != yaml.ScalarNode {
				continue
			}
			if strings.Contains(it.Value, "\n") {
				out = append(out, patchEntry{inline: it})
			} else {
				out = append(out, patchEntry{path: strings.TrimSpace(it.Value)})
			}
		}
	}
	for _, field := range []string{"patches", "patchesJson6902"} {
		l, _ := (&node{k}).value(field)
		if l == nil || l.Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range l.Content {
			it := &node{resolve(it)}
			e := patchEntry{}
			if t, _ := it.value("target"); t != nil && t.Kind == yaml.MappingNode {
				e.target = t.Node
			}
			if p, _ := it.value("path"); p != nil && p.Kind == yaml.ScalarNode {
				e.path = strings.TrimSpace(p.Value)
			} else if p, _ := it.value("patch"); p != nil && p.Kind == yaml.ScalarNode {
				e.inline = p.Node
			} else {
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

// inlineDocs parses an inline patch into its documents, each at its line in the
// kustomization. Only a literal block (patch: |) keeps its lines; other styles give none.
func inlineDocs(s *yaml.Node) []*yaml.Node {
	if s == nil || s.Style&yaml.LiteralStyle == 0 {
		return nil
	}
	roots := decodeRoots([]byte(s.Value))
	for _, root := range roots {
		shiftLines(root, s.Line)
	}
	return roots
}

// shiftLines moves every node of a tree down by n lines. Aliases are not followed: the
// nodes they point at are in the tree already.
func shiftLines(n *yaml.Node, by int) {
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by)
	}
}

// inlinePatchDocs are the documents of every inline patch in kustomization k.
func inlinePatchDocs(k *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, e := range patchEntries(k) {
		out = append(out, inlineDocs(e.inline)...)
	}
	return out
}

// sets returns the line in the patch at src that sets segs: in a strategic-merge patch the
// field's own line, when the patch has all of it; in a JSON 6902 patch that of the last
// operation that sets the field, something inside it, or an object that holds it. segs
// carry list indexes and keys both (see fillSegments): a strategic merge matches list
// items by key, an operation's path by index.
func (f *FieldLines) sets(src Source, segs []segment) (int, bool) {
	obj := f.object(src)
	if obj == nil || len(segs) == 0 {
		return 0, false
	}
	if obj.Kind == yaml.MappingNode {
		line, complete := walkNode(&node{obj}, segs)
		return line, complete
	}
	want := pointerTokens(segs)
	for i := len(obj.Content) - 1; i >= 0; i-- {
		op := &node{resolve(obj.Content[i])}
		p, _ := op.value("path")
		if p == nil || p.Kind != yaml.ScalarNode {
			continue
		}
		got := splitPointer(p.Value)
		if !tokensOverlap(got, want) {
			continue
		}
		v, line := op.value("value")
		if v == nil {
			return op.Line, true
		}
		if len(got) < len(want) {
			if deeper, _ := walkNode(v, tokenSegments(want[len(got):])); deeper > 0 {
				line = deeper
			}
		}
		return line, true
	}
	return 0, false
}

// pointerToken is one token of a field path written as a JSON pointer.
type pointerToken struct {
	s    string // a key, a list index, or "" for an item known only by its keys
	last bool   // the item is its list's last, where "-" appends
}

// pointerTokens writes a field path as the tokens of a JSON pointer.
func pointerTokens(segs []segment) []pointerToken {
	var out []pointerToken
	for _, s := range segs {
		if s.key != "" {
			out = append(out, pointerToken{s: s.key})
		}
		switch {
		case s.index >= 0:
			out = append(out, pointerToken{s: strconv.Itoa(s.index), last: s.last})
		case s.selector != nil:
			out = append(out, pointerToken{})
		}
	}
	return out
}

// splitPointer splits a JSON pointer (RFC 6901) into its tokens.
func splitPointer(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, t := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return parts
}

// tokensOverlap says whether the operation's path op is the field's path or one lies
// inside the other. "-" (where add appends) is the list's last item.
func tokensOverlap(op []string, field []pointerToken) bool {
	for i := 0; i < len(op) && i < len(field); i++ {
		if f := field[i]; (op[i] != f.s || f.s == "") && (op[i] != "-" || !f.last) {
			return false
		}
	}
	return len(op) > 0
}

// tokenSegments turns pointer tokens back into steps: numbers index lists.
func tokenSegments(toks []pointerToken) []segment {
	out := make([]segment, len(toks))
	for i, tok := range toks {
		t := tok.s
		if n, err := strconv.Atoi(t); err == nil {
			out[i] = segment{index: n}
		} else {
			out[i] = segment{key: t, index: -1}
		}
	}
	return out
}

// mergeKeys are the keys that name the items of the lists strategic merge merges by key
// (containers and volumes by name, ports by containerPort, ...), in the order tried.
var mergeKeys = []string{"name", "containerPort", "port", "mountPath", "devicePath", "ip"}

// fillSegments gives every list step of segs both the item's index and its merge key, as
// far as the rendered object obj has them, so that the field is found in a patch that
// names the item by key and in an operation that names it by index.
func fillSegments(obj map[string]any, segs []segment) []segment {
	out := make([]segment, len(segs))
	copy(out, segs)
	var cur any = obj
	for i := range out {
		s := &out[i]
		if s.key != "" {
			m, _ := cur.(map[string]any)
			cur = m[s.key]
		}
		if s.index < 0 && s.selector == nil {
			continue
		}
		list, _ := cur.([]any)
		if s.index < 0 {
			for j, it := range list {
				if m, ok := it.(map[string]any); ok && matchesKeys(m, s.selector) {
					s.index = j
					break
				}
			}
		}
		if s.index < 0 || s.index >= len(list) {
			cur = nil
			continue
		}
		cur, s.last = list[s.index], s.index == len(list)-1
		if m, ok := cur.(map[string]any); ok && s.selector == nil {
			for _, k := range mergeKeys {
				if v, ok := scalarString(m[k]); ok {
					s.selector = map[string]string{k: v}
					break
				}
			}
		}
	}
	return out
}

func matchesKeys(m map[string]any, sel map[string]string) bool {
	for k, want := range sel {
		if v, ok := scalarString(m[k]); !ok || v != want {
			return false
		}
	}
	return true
}

// scalarString writes a JSON scalar as YAML writes it.
func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}
