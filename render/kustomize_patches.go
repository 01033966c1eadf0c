package render

import (
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
)

// transformationsKey is the annotation of kustomize's transformerAnnotations build
// metadata: for each resource, the kustomization of every transformer that ran over it
// (kustomize v0.21 names the kustomization and the transformer's kind, not the patch).
const transformationsKey = "alpha.config.kubernetes.io/transformations"

// kustPatch is one patch of a kustomization: where it is written and what it targets.
type kustPatch struct {
	at  Source
	sel types.Selector
	re  *types.SelectorRegex
}

// patchesOf returns the patches that target res, in the order applied: those of every
// kustomization its transformations annotation names (the base's first), whose target
// is res. name is res's name in its resource file, before prefixes and suffixes. cache
// holds each kustomization's patches, parsed once per build.
func (r *renderer) patchesOf(cache map[string][]kustPatch, dir string, res *resource.Resource, name string) []Source {
	ts, err := res.GetTransformations()
	if err != nil {
		return nil
	}
	var out []Source
	seen := map[string]bool{}
	for _, t := range ts {
		if t == nil || t.Repo != "" || t.ConfiguredIn == "" {
			continue
		}
		k := path.Join(dir, t.ConfiguredIn)
		if seen[k] || !isKustomization(k) {
			continue
		}
		seen[k] = true
		ps, ok := cache[k]
		if !ok {
			ps = r.kustPatches(k)
			cache[k] = ps
		}
		for _, p := range ps {
			if p.targets(res, name) {
				out = append(out, p.at)
			}
		}
	}
	return out
}

// kustPatches reads the patches of kustomization k from the pushed tree (the in-memory
// copy was rewritten, and its lines moved).
func (r *renderer) kustPatches(k string) []kustPatch {
	roots := documentRoots(r.fsys, k)
	if len(roots) == 0 || roots[0].Kind != yaml.MappingNode {
		return nil
	}
	var out []kustPatch
	for _, e := range patchEntries(roots[0]) {
		var target *types.Selector
		if e.target != nil {
			target = &types.Selector{}
			if err := e.target.Decode(target); err != nil {
				continue
			}
		}
		file, docs := k, inlineDocs(e.inline)
		if e.inline == nil {
			file = path.Join(path.Dir(k), e.path)
			docs = documentRoots(r.fsys, file)
		}
		for _, d := range docs {
			sel := target
			if sel == nil {
				sel = patchSelector(d)
			}
			if sel == nil {
				continue
			}
			sel.Namespace = "" // a namespace transformer may have moved the object since
			re, err := types.NewSelectorRegex(sel)
			if err != nil {
				continue
			}
			out = append(out, kustPatch{at: Source{File: file, Line: d.Line}, sel: *sel, re: re})
		}
	}
	return out
}

// patchSelector is what a strategic-merge patch without a target applies to: the object
// of its own kind and name.
func patchSelector(d *yaml.Node) *types.Selector {
	if d.Kind != yaml.MappingNode {
		return nil // operations need a target
	}
	var obj struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	if err := d.Decode(&obj); err != nil || obj.Kind == "" {
		return nil
	}
	sel := &types.Selector{}
	sel.Kind, sel.Name = obj.Kind, obj.Metadata.Name
	if g, _, ok := strings.Cut(obj.APIVersion, "/"); ok {
		sel.Group = g
	}
	return sel
}

// targets says whether the patch applies to res. Names are matched loosely, since res
// has the build's final name and the patch the one its kustomization saw: the name in
// the resource file, the final one, or one inside the final one (a prefix added later).
func (p kustPatch) targets(res *resource.Resource, name string) bool {
	if !p.re.MatchGvk(res.GetGvk()) {
		return false
	}
	if n := p.sel.Name; n != "" && !p.re.MatchName(res.GetName()) && !p.re.MatchName(name) && !strings.Contains(res.GetName(), n) {
		return false
	}
	if s := p.sel.LabelSelector; s != "" {
		if ok, err := res.MatchesLabelSelector(s); err == nil && !ok {
			return false
		}
	}
	if s := p.sel.AnnotationSelector; s != "" {
		if ok, err := res.MatchesAnnotationSelector(s); err == nil && !ok {
			return false
		}
	}
	return true
}
