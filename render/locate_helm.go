package render

// locateHelm is Locate for a Helm chart. For now the template the object came from.
func (l *Locator) locateHelm(o Object, field string) (Source, []Source) {
	return Source{File: o.Source.File, Line: o.Source.Line}, nil
}
