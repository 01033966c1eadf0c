package render

import (
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/types"
)

// What krusty's errors say, innermost last: it wraps every cause in the steps that led to
// it ("accumulating resources: accumulation err='...': recursed accumulation of path
// 'base': ..."). The pusher needs the cause and the line of the entry that caused it.
var (
	kzRecursedRe  = regexp.MustCompile(`recursed accumulation of path '([^']*)'`)
	kzMissingRe   = regexp.MustCompile(`'([^']*)' doesn't exist`)
	kzNoKustRe    = regexp.MustCompile(`unable to find one of 'kustomization\.yaml', 'kustomization\.yml' or 'Kustomization' in directory '([^']*)'`)
	kzCycleRe     = regexp.MustCompile(`cycle detected: candidate root '([^']*)' contains visited root '([^']*)'`)
	kzUnknownRe   = regexp.MustCompile(`invalid Kustomization: json: unknown field "([^"]*)"`)
	kzNoMatchRe   = regexp.MustCompile(`no resource matches strategic merge patch "([^".]*)\.[^/"]*/([^".]*)\.`)
	kzOpPathRe    = regexp.MustCompile(`(\w+) operation does not apply: doc is missing path: (\S+?):? `)
	kzDuplicateRe = regexp.MustCompile(`already registered id: ([^.]*)\.[^/]*/([^.]*)\.`)
	kzYAMLRe      = regexp.MustCompile(`MalformedYAMLError: yaml: line (\d+): (.*) in File: (\S+)`)
	kzFromRe      = regexp.MustCompile(`from '([^']*)'`)
	kzNoFieldRe   = regexp.MustCompile(`missing (\S+) in object`)
	kzPluginRe    = regexp.MustCompile(`unable to load external plugin '([^']*)'`)
)

// kustomizeProblem turns krusty's error into a problem at the entry of the kustomization
// that causes it (a base's, for a file missing in the base), with a hint. top is the
// kustomization that was built; kusts are those of the tree.
func (r *renderer) kustomizeProblem(err error, top string, kusts []string) Problem {
	msg := stripRoot(err.Error())
	// The kustomization whose entry failed: the last one krusty recursed into.
	at := path.Dir(top)
	if m := kzRecursedRe.FindAllStringSubmatch(msg, -1); m != nil {
		at = m[len(m)-1][1]
	}
	p := Problem{File: top, Rule: RuleKustomize}
	refs := r.kustRefs(kusts)
	blame := func(target string) {
		if ref, ok := refs.naming(at, target); ok {
			p.File, p.Line = ref.file, ref.line
		}
	}
	switch {
	case kzNoKustRe.MatchString(msg):
		dir := kzNoKustRe.FindStringSubmatch(msg)[1]
		blame(dir)
		p.Message = fmt.Sprintf("%s has no kustomization.yaml", dir)
		p.Hint = "add a kustomization.yaml there, or list its files instead"
	case kzCycleRe.MatchString(msg):
		m := kzCycleRe.FindStringSubmatch(msg)
		blame(m[1])
		p.Message = fmt.Sprintf("%s includes itself (a cycle of bases)", m[2])
		p.Hint = "a base must not include, even through others, what uses it"
	case kzMissingRe.MatchString(msg):
		all := kzMissingRe.FindAllStringSubmatch(msg, -1)
		missing := all[len(all)-1][1]
		blame(missing)
		p.Message = fmt.Sprintf("%s does not exist", missing)
		p.Hint = "add it, or fix the path (relative to the kustomization)"
	case kzUnknownRe.MatchString(msg):
		field := kzUnknownRe.FindStringSubmatch(msg)[1]
		p.File = kustomizationIn(at, kusts, top)
		p.Line = r.keyLine(p.File, field)
		p.Message = fmt.Sprintf("unknown field %q in the kustomization", field)
		p.Hint = "see the fields of kustomize's Kustomization reference"
		if s := nearestField(field); s != "" {
			p.Hint = fmt.Sprintf("did you mean %q?", s)
		}
	case kzNoMatchRe.MatchString(msg):
		m := kzNoMatchRe.FindStringSubmatch(msg)
		if src, ok := r.patchFor(kustomizationIn(at, kusts, top), m[1], m[2]); ok {
			p.File, p.Line = src.File, src.Line
		}
		p.Message = fmt.Sprintf("the patch of %s %s matches no resource", m[1], m[2])
		p.Hint = "its kind and name must be a resource's, before namePrefix"
	case kzOpPathRe.MatchString(msg):
		m := kzOpPathRe.FindStringSubmatch(msg + " ")
		if src, ok := r.opFor(kustomizationIn(at, kusts, top), m[2]); ok {
			p.File, p.Line = src.File, src.Line
		}
		p.Message = fmt.Sprintf("patch: %s of %s: the object has no such path", m[1], m[2])
		p.Hint = "replace and remove need an existing path; use add to create it"
	case kzDuplicateRe.MatchString(msg):
		m := kzDuplicateRe.FindStringSubmatch(msg)
		if f := kzFromRe.FindAllStringSubmatch(msg, -1); f != nil {
			blame(path.Join(at, f[len(f)-1][1]))
		}
		p.Message = fmt.Sprintf("%s %s is in the build twice", m[1], m[2])
		p.Hint = "remove one of them, or give them different names"
	case kzYAMLRe.MatchString(msg):
		m := kzYAMLRe.FindStringSubmatch(msg)
		p.File = path.Join(at, m[3])
		p.Line, _ = strconv.Atoi(m[1])
		p.Rule = RuleYAMLSyntax
		p.Message = "invalid YAML: " + m[2]
		p.Hint = "fix the YAML syntax at this line"
	case kzNoFieldRe.MatchString(msg):
		field := kzNoFieldRe.FindStringSubmatch(msg)[1]
		if f := kzFromRe.FindAllStringSubmatch(msg, -1); f != nil {
			p.File, p.Line = path.Join(at, f[len(f)-1][1]), 1
		}
		p.Rule = RuleMissingField
		p.Message = fmt.Sprintf("an object has no %s", field)
		p.Hint = "every object needs apiVersion, kind and metadata.name"
	case kzPluginRe.MatchString(msg):
		p.File = kustomizationIn(at, kusts, top)
		p.Message = fmt.Sprintf("plugin %s is not built into kustomize", kzPluginRe.FindStringSubmatch(msg)[1])
		p.Hint = "gitopsd runs only kustomize's built-in plugins"
	default:
		p.Message = trimKustomize(msg)
		p.Hint = "run kustomize build on the directory to see the whole error"
	}
	return p
}

// trimKustomize keeps the cause of one of krusty's errors: what follows the last of the
// steps it wraps it in.
func trimKustomize(msg string) string {
	msg = strings.TrimPrefix(msg, "kustomize: ")
	for _, step := range []string{"recursed accumulation of path '", "accumulating resources: ", "accumulation err='"} {
		if i := strings.LastIndex(msg, step); i >= 0 {
			rest := msg[i+len(step):]
			if j := strings.Index(rest, "': "); j >= 0 && strings.HasPrefix(step, "recursed") {
				rest = rest[j+3:]
			}
			msg = rest
		}
	}
	return msg
}

// kustomizationIn is the kustomization file of directory dir, else top.
func kustomizationIn(dir string, kusts []string, top string) string {
	for _, k := range kusts {
		if path.Dir(k) == dir {
			return k
		}
	}
	return top
}

// kustRef is one path a kustomization names: where it is written and where it leads.
type kustRef struct {
	file   string // the kustomization
	line   int
	target string // the path it names, from the repository's root
}

type kustRefs []kustRef

// naming finds the entry that names target, preferring the kustomization of dir.
func (rs kustRefs) naming(dir, target string) (kustRef, bool) {
	var found []kustRef
	for _, r := range rs {
		if r.target == target {
			found = append(found, r)
		}
	}
	for _, r := range found {
		if path.Dir(r.file) == dir {
			return r, true
		}
	}
	if len(found) > 0 {
		return found[0], true
	}
	return kustRef{}, false
}

// kustRefs lists the paths every kustomization of kusts names, with their lines. They are
// read from the pushed tree: the in-memory copies were rewritten.
func (r *renderer) kustRefs(kusts []string) kustRefs {
	var out kustRefs
	for _, k := range kusts {
		roots := documentRoots(r.fsys, k)
		if len(roots) == 0 {
			continue
		}
		add := func(n *node) {
			if n != nil && n.Kind == yaml.ScalarNode && !strings.Contains(n.Value, "\n") {
				ref := strings.TrimSpace(n.Value)
				if _, p, ok := strings.Cut(ref, "="); ok {
					ref = p // a generator's key=path
				}
				out = append(out, kustRef{file: k, line: n.Line, target: path.Join(path.Dir(k), ref)})
			}
		}
		each := func(n *node, fn func(*node)) {
			if n != nil && n.Kind == yaml.SequenceNode {
				for _, it := range n.Content {
					fn(&node{resolve(it)})
				}
			}
		}
		k := &node{roots[0]}
		for _, f := range refLists {
			v, _ := k.value(f)
			each(v, add)
		}
		for _, f := range refItems {
			v, _ := k.value(f)
			each(v, func(it *node) { p, _ := it.value("path"); add(p) })
		}
		if o, _ := k.value("openapi"); o != nil {
			p, _ := o.value("path")
			add(p)
		}
		for _, f := range generatorFields {
			v, _ := k.value(f)
			each(v, func(g *node) {
				for _, key := range []string{"files", "envs"} {
					l, _ := g.value(key)
					each(l, add)
				}
				e, _ := g.value("env")
				add(e)
			})
		}
	}
	return out
}

// keyLine is the line of a top-level key of kustomization file, or 0.
func (r *renderer) keyLine(file, key string) int {
	roots := documentRoots(r.fsys, file)
	if len(roots) == 0 {
		return 0
	}
	_, line := (&node{roots[0]}).value(key)
	return line
}

// patchFor finds the strategic-merge patch of kind and name in kustomization k.
func (r *renderer) patchFor(k, kind, name string) (Source, bool) {
	for _, p := range r.kustPatches(k) {
		if p.sel.Kind == kind && p.sel.Name == name {
			return p.at, true
		}
	}
	return Source{}, false
}

// opFor finds the JSON 6902 operation on pointer in the patches of kustomization k.
func (r *renderer) opFor(k, pointer string) (Source, bool) {
	lines := NewFieldLines(r.fsys)
	for _, p := range r.kustPatches(k) {
		ops := lines.object(p.at)
		if ops == nil || ops.Kind != yaml.SequenceNode {
			continue
		}
		for _, op := range ops.Content {
			if v, line := (&node{resolve(op)}).value("path"); v != nil && v.Value == pointer {
				return Source{File: p.at.File, Line: line}, true
			}
		}
	}
	return Source{}, false
}

// kustomizationFields are the fields of a kustomization, as krusty reads them.
var kustomizationFields = func() []string {
	var out []string
	t := reflect.TypeOf(types.Kustomization{})
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}()

// nearestField suggests the field of a kustomization that field is a typo of: one that
// differs by case or a plural s, or by one letter.
func nearestField(field string) string {
	for _, f := range kustomizationFields {
		if strings.EqualFold(f, field) || f == field+"s" || f+"s" == field || oneEditApart(f, field) {
			return f
		}
	}
	return ""
}

// oneEditApart says whether a and b differ by one inserted, removed or changed letter.
func oneEditApart(a, b string) bool {
	if len(a) < len(b) {
		a, b = b, a
	}
	if len(a)-len(b) > 1 || a == b {
		return false
	}
	i := 0
	for i < len(b) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i+1:] == b[i:]
}
