package render

import (
	"context"

	"helm.sh/helm/v3/pkg/chartutil"
)

// locateHelm is Locate for a Helm chart. When the refused value is one a values file
// sets and a template reads, it is that values file's line (the environment's files
// first, the chart's values.yaml last, as Helm merges them), via the template line that
// renders it. Otherwise the template, at the field's key when the template writes it
// once.
func (l *Locator) locateHelm(o Object, field string) (Source, []Source) {
	at := Source{File: o.Source.File, Line: o.Source.Line}
	h := l.helmScope()
	if h == nil || o.Unstructured == nil {
		return at, nil
	}
	segs := fieldSegments(field)
	key := lastKey(segs)
	if v, ok := valueAt(o.Object, segs); ok && isScalar(v) {
		if lf, ok := h.origin(v, key, o.Source.File); ok {
			via, found := h.via(o.Source.File, lf, key)
			if !found {
				via = at
			}
			return lf.at, []Source{via}
		}
	}
	if line := keyLine(h.templates[o.Source.File], key); line > 0 {
		at.Line = line
	}
	return at, nil
}

// helmScope loads the chart again, once per Locator, as the render did (the same files,
// the same bounds): nil when it cannot be loaded.
func (l *Locator) helmScope() *helmScope {
	if l.helmLoaded {
		return l.helm
	}
	l.helmLoaded = true
	opts := l.opts
	opts.defaults()
	dir, err := cleanPath(opts.Path)
	if err != nil {
		return nil
	}
	// No secrets: a SOPS values file is not decrypted here, so what it sets is not found;
	// the place to fix is then the template.
	opts.Secrets = nil
	r := &renderer{ctx: context.Background(), fsys: l.fsys, opts: opts, in: &budget{max: opts.MaxBytes}, sec: &secretState{decrypted: map[string]bool{}}}
	ch := r.loadChart(dir)
	if ch == nil {
		return nil
	}
	paths := chartPaths(dir, ch)
	vals, files := r.values()
	// As the render did: subcharts under their aliases, those disabled by a condition gone.
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil
	}
	l.helm = newHelmScope(ch, paths, files)
	return l.helm
}

// lastKey is the key of a field path's last step, "" when it ends in a list item.
func lastKey(segs []segment) string {
	if len(segs) == 0 {
		return ""
	}
	s := segs[len(segs)-1]
	if s.index >= 0 || s.selector != nil {
		return ""
	}
	return s.key
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int64, int, float64:
		return true
	}
	return false
}
