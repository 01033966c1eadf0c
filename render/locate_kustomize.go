package render

// locateKustomize is Locate for a Kustomize build. For now the object's resource file,
// at the field's line when the file declares it.
func (l *Locator) locateKustomize(o Object, field string) (Source, []Source) {
	at := Source{File: o.Source.File, Line: o.Source.Line}
	if line, ok := l.lines.Line(o.Source, field); ok {
		at.Line = line
	}
	return at, nil
}
