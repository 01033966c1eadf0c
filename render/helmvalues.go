package render

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart"
)

// maxValuesNodes bounds the values nodes a helmScope walks: the files passed the bounded
// decoder already, but a walk that follows aliases could still multiply them.
const maxValuesNodes = 200_000

// maxSuggestKey is the longest key a "did you mean" is looked for: a typo is a slip of a
// few letters in a name one types, and the distance costs the product of the lengths.
const maxSuggestKey = 64

// valuesFile is one of the environment's values files as read for rendering.
type valuesFile struct {
	name string
	data []byte
}

// helmScope is what a chart says about its values: which keys its templates read, and
// which file and line sets each value. It serves the Locator (where a refused value was
// set) and the warning about values no template reads. It is built from the loaded
// chart, so it sees what Helm rendered, subcharts included.
type helmScope struct {
	templates map[string][]byte // repository file -> template text
	refs      []valuesRef
	values    []valuesDoc // highest precedence first
	readTop   map[string]bool
	set       []valuesLeaf // leaves(), once
}

// valuesRef is a read of a values key in a template: .Values.a.b, $.Values.a.b or
// index .Values "a" "b" read a.b; a subchart's reads are under its key in the parent's
// values. An empty path reads every value (.Values passed whole).
type valuesRef struct {
	path []string
	at   Source
}

// valuesDoc is one values file: the environment's, a chart's own values.yaml (under the
// key of the subchart it belongs to).
type valuesDoc struct {
	file   string
	root   *yaml.Node
	prefix []string
	env    bool
}

// valuesLeaf is a scalar a values file sets, and where.
type valuesLeaf struct {
	path  []string
	value any
	at    Source
}

// newHelmScope collects the values reads of every template of ch and its subcharts (at
// their chartPaths), and the values files in the order Helm lets them win: the
// environment's (last first), then each chart's values.yaml.
func newHelmScope(ch *chart.Chart, paths map[*chart.File]string, env []valuesFile) *helmScope {
	h := &helmScope{templates: map[string][]byte{}, readTop: map[string]bool{"global": true}}
	for i := len(env) - 1; i >= 0; i-- {
		if root := valuesRoot(env[i].data); root != nil {
			h.values = append(h.values, valuesDoc{file: env[i].name, root: root, env: true})
		}
	}
	for _, d := range ch.Metadata.Dependencies {
		h.readTop[d.Name] = true
		if d.Alias != "" {
			h.readTop[d.Alias] = true
		}
	}
	var walk func(c *chart.Chart, prefix []string)
	walk = func(c *chart.Chart, prefix []string) {
		for _, t := range c.Templates {
			file, ok := paths[t]
			if !ok {
				continue
			}
			h.templates[file] = t.Data
			h.refs = append(h.refs, valuesRefs(file, t.Data, prefix)...)
		}
		for _, f := range c.Raw {
			if _, ok := paths[f]; ok && f.Name == "values.yaml" {
				if root := valuesRoot(f.Data); root != nil {
					h.values = append(h.values, valuesDoc{file: paths[f], root: root, prefix: prefix})
				}
			}
		}
		for _, sub := range c.Dependencies() {
			walk(sub, append(append([]string(nil), prefix...), dependencyKey(c, sub)))
		}
	}
	walk(ch, nil)
	return h
}

// dependencyKey is the key of sub's values in its parent's: its alias, else its name.
func dependencyKey(parent, sub *chart.Chart) string {
	for _, d := range parent.Metadata.Dependencies {
		if d.Name == sub.Name() && d.Alias != "" {
			return d.Alias
		}
	}
	return sub.Name()
}

// valuesRoot parses a values file's first document down to its top mapping, nil if it is
// not one.
func valuesRoot(data []byte) *yaml.Node {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	return root
}

// valuesRefRe finds reads of values in a template's text: index .Values "a" "b" (first,
// with its literal keys), and .Values.a.b after any variable ($.Values, $root.Values).
// Field names in Go templates are identifiers; other keys need index.
var (
	valuesRefRe = regexp.MustCompile(`\bindex\s+(?:\$\w*)?\.Values((?:\.\w+)*)((?:\s+"[^"\\]*")+)|\.Values\b((?:\.\w+)*)`)
	quotedRe    = regexp.MustCompile(`"([^"\\]*)"`)
)

// valuesRefs are the values reads in the template text src of file, under prefix.
func valuesRefs(file string, src []byte, prefix []string) []valuesRef {
	var out []valuesRef
	for _, m := range valuesRefRe.FindAllSubmatchIndex(src, -1) {
		p := append([]string(nil), prefix...)
		if m[2] >= 0 {
			p = append(p, dotted(src[m[2]:m[3]])...)
			for _, q := range quotedRe.FindAllSubmatch(src[m[4]:m[5]], -1) {
				p = append(p, string(q[1]))
			}
		} else {
			p = append(p, dotted(src[m[6]:m[7]])...)
		}
		out = append(out, valuesRef{path: p, at: Source{File: file, Line: lineAt(src, m[0])}})
	}
	return out
}

// dotted splits ".a.b" into a, b.
func dotted(b []byte) []string {
	s := strings.TrimPrefix(string(b), ".")
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

// hasPrefix says whether p starts with every element of prefix.
func hasPrefix(p, prefix []string) bool {
	if len(prefix) > len(p) {
		return false
	}
	for i := range prefix {
		if p[i] != prefix[i] {
			return false
		}
	}
	return true
}

// reads reports whether a template reads the value at p: a read of p, of a key above it
// (toYaml .Values.resources) or below it (.Values.hpa.enabled reads hpa). A top-level key
// of a dependency, or global, is read by the subchart, however it uses it.
func (h *helmScope) reads(p []string) bool {
	if len(p) > 0 && h.readTop[p[0]] {
		return true
	}
	for _, r := range h.refs {
		if hasPrefix(p, r.path) || hasPrefix(r.path, p) {
			return true
		}
	}
	return false
}

// leaves are the scalars the values files set, each once: from the file that wins it.
func (h *helmScope) leaves() []valuesLeaf {
	if h.set != nil {
		return h.set
	}
	out := []valuesLeaf{}
	defer func() { h.set = out }()
	seen := map[string]bool{}
	budget := maxValuesNodes
	for _, d := range h.values {
		var walk func(n *yaml.Node, p []string)
		walk = func(n *yaml.Node, p []string) {
			for i := 0; i+1 < len(n.Content) && budget > 0; i += 2 {
				budget--
				k, v := n.Content[i], resolve(n.Content[i+1])
				kp := append(append([]string(nil), p...), k.Value)
				switch v.Kind {
				case yaml.MappingNode:
					walk(v, kp)
				case yaml.ScalarNode:
					key := strings.Join(kp, "\x00")
					if seen[key] {
						continue
					}
					seen[key] = true
					if val, err := scalar(v); err == nil && val != nil {
						out = append(out, valuesLeaf{path: kp, value: val, at: Source{File: d.file, Line: k.Line}})
					}
				}
			}
		}
		walk(d.root, d.prefix)
	}
	return out
}

// origin is the values leaf that most likely set value, rendered at a field whose last
// key is key in the template file: one that a template reads, best read in file itself
// and named as the field is. ok is false when no leaf, or more than one equally
// likely, fits.
func (h *helmScope) origin(value any, key, file string) (best valuesLeaf, ok bool) {
	want := fmt.Sprint(value)
	score, n := -1, 0
	for _, lf := range h.leaves() {
		if fmt.Sprint(lf.value) != want {
			continue
		}
		s, read := h.score(lf, key, file)
		switch {
		case !read:
		case s > score:
			best, score, n = lf, s, 1
		case s == score && (lf.at.File != best.at.File || lf.at.Line != best.at.Line):
			n++
		}
	}
	return best, n == 1
}

// score rates how likely lf fed a field whose last key is key in template file: 2 if file
// reads it, 1 if its key is the field's; read is false if no template reads it at all.
func (h *helmScope) score(lf valuesLeaf, key, file string) (s int, read bool) {
	for _, r := range h.refs {
		if !hasPrefix(lf.path, r.path) {
			continue
		}
		read = true
		if r.at.File == file {
			s = 2
		}
	}
	if key != "" && lf.path[len(lf.path)-1] == key {
		s++
	}
	return s, read
}

// via is the line of template file that renders lf: its most specific read of lf there,
// else the line of the field's key; ok is false when neither is found.
func (h *helmScope) via(file string, lf valuesLeaf, key string) (Source, bool) {
	var best *valuesRef
	for i, r := range h.refs {
		if r.at.File == file && hasPrefix(lf.path, r.path) && (best == nil || len(r.path) > len(best.path)) {
			best = &h.refs[i]
		}
	}
	if best != nil {
		return best.at, true
	}
	if line := keyLine(h.templates[file], key); line > 0 {
		return Source{File: file, Line: line}, true
	}
	return Source{}, false
}

// keyLine is the line of src that holds key (as "key:" or "- key:"), when exactly one does.
func keyLine(src []byte, key string) int {
	if key == "" || len(src) == 0 {
		return 0
	}
	re, err := regexp.Compile(`(?m)^[ \t]*(?:-[ \t]+)?["']?` + regexp.QuoteMeta(key) + `["']?[ \t]*:`)
	if err != nil {
		return 0
	}
	locs := re.FindAllIndex(src, 2)
	if len(locs) != 1 {
		return 0
	}
	return lineAt(src, locs[0][0])
}

// unread are warnings for each key of the environment's values files that no template
// reads (hpaa: for hpa:, which drops whatever the chart renders behind hpa.enabled),
// the outermost such key only, with the read key of the same place it likely meant.
func (h *helmScope) unread() []Problem {
	var out []Problem
	budget := maxValuesNodes
	for i := len(h.values) - 1; i >= 0; i-- { // the environment's files, in their order
		d := h.values[i]
		if !d.env {
			continue
		}
		var walk func(n *yaml.Node, p []string)
		walk = func(n *yaml.Node, p []string) {
			for i := 0; i+1 < len(n.Content) && budget > 0; i += 2 {
				budget--
				k, v := n.Content[i], n.Content[i+1]
				kp := append(append([]string(nil), p...), k.Value)
				if !h.reads(kp) {
					out = append(out, h.unreadProblem(d.file, k.Line, kp))
					continue
				}
				if v.Kind == yaml.MappingNode { // aliases are not followed: their keys are written once
					walk(v, kp)
				}
			}
		}
		walk(d.root, nil)
	}
	return out
}

func (h *helmScope) unreadProblem(file string, line int, p []string) Problem {
	pr := Problem{File: file, Line: line, Rule: RuleHelmUnread,
		Message: strings.Join(p, ".") + ": no template reads it",
		Hint:    "check its spelling against the chart's values.yaml, or remove it"}
	if near := h.nearest(p); near != "" {
		pr.Hint = "did you mean " + strings.Join(append(append([]string(nil), p[:len(p)-1]...), near), ".") + "?"
	}
	return pr
}

// nearest is the key beside p's last (read by a template, or set by a chart's
// values.yaml) closest to it: 1 or 2 edits away, and fewer edits than its length.
func (h *helmScope) nearest(p []string) string {
	parent, last := p[:len(p)-1], p[len(p)-1]
	cands := map[string]bool{}
	for _, r := range h.refs {
		if len(r.path) > len(parent) && hasPrefix(r.path, parent) {
			cands[r.path[len(parent)]] = true
		}
	}
	for _, d := range h.values {
		if d.env || !hasPrefix(parent, d.prefix) {
			continue
		}
		n := d.root
		for _, k := range parent[len(d.prefix):] {
			if n = mappingValue(n, k); n == nil {
				break
			}
		}
		for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
			cands[n.Content[i].Value] = true
		}
	}
	names := make([]string, 0, len(cands))
	for c := range cands {
		names = append(names, c)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, c := range names {
		if len(last) > maxSuggestKey || len(c) > maxSuggestKey || len(c) > len(last)+2 || len(last) > len(c)+2 {
			continue
		}
		if d := EditDistance(last, c); d > 0 && d < bestD && d < len(last) {
			best, bestD = c, d
		}
	}
	return best
}

// mappingValue is the value of key in mapping n, nil if n is no mapping or lacks it.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	v, _ := (&node{n}).value(key)
	if v == nil || v.Kind != yaml.MappingNode {
		return nil
	}
	return v.Node
}

// EditDistance is the Levenshtein distance of a and b, in bytes (names and keys are
// ASCII and short): what "did you mean" suggestions are chosen by.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
