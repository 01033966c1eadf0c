package render

// locateKustomize is Locate for a Kustomize build: the last patch that sets field (a
// strategic-merge patch that has it, a JSON 6902 operation on it), else the resource
// file the object comes from (a base's or the overlay's), at the field's line when the
// file declares it, else at the object's line.
func (l *Locator) locateKustomize(o Object, field string) (Source, []Source) {
	at := Source{File: o.Source.File, Line: o.Source.Line}
	segs := fieldSegments(field)
	if o.Unstructured != nil {
		// List items by index and key both: a patch merges them by key, an operation
		// and the resource file list them by index.
		segs = fillSegments(o.Object, segs)
	}
	for i := len(o.Source.Patches) - 1; i >= 0; i-- {
		p := o.Source.Patches[i]
		if line, ok := l.lines.sets(p, segs); ok {
			return Source{File: p.File, Line: line}, nil
		}
	}
	if line, _ := l.lines.walk(o.Source, segs); line > 0 {
		at.Line = line
	}
	return at, nil
}
