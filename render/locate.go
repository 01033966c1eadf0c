package render

import "io/fs"

// Locator finds, for a field of a rendered object that something refused, the file and
// line a person edits to change it: in a plain manifest the field's own line; in a
// Kustomize build the patch that sets the field, else the resource file it comes from (a
// base's included); in a Helm chart the values file that sets the value, with the
// template that reads it on the way. It reads only files of the tree it is given, which
// rendering read already. One Locator serves the refusals of one render; it is not safe
// for concurrent use.
type Locator struct {
	fsys  fs.FS
	typ   string
	opts  Options
	lines *FieldLines

	helm       *helmScope // a Helm chart's values and their reads, loaded on first use
	helmLoaded bool
}

// NewLocator returns a Locator for the objects a render of fsys with opts produced, typ
// being the type it used (Result.Type).
func NewLocator(fsys fs.FS, typ string, opts Options) *Locator {
	return &Locator{fsys: fsys, typ: typ, opts: opts, lines: NewFieldLines(fsys)}
}

// Locate returns the place to fix for field of o (a path as the API server writes it,
// see FieldLines.Line), and the places the value passes through on its way there (the
// template that reads a Helm value). When field cannot be found it returns o's own
// source, and no via.
func (l *Locator) Locate(o Object, field string) (at Source, via []Source) {
	at = Source{File: o.Source.File, Line: o.Source.Line}
	if field == "" {
		return at, nil
	}
	switch l.typ {
	case TypeKustomize:
		return l.locateKustomize(o, field)
	case TypeHelm:
		return l.locateHelm(o, field)
	}
	if line, ok := l.lines.Line(o.Source, field); ok {
		at.Line = line
	}
	return at, nil
}
