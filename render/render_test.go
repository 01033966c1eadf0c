package render

import (
	"io/fs"
	"testing"
)

// panicFS panics when listed, standing in for a library that panics on hostile input.
type panicFS struct{ fs.FS }

func (panicFS) ReadDir(string) ([]fs.DirEntry, error) { panic("boom") }

func TestRendererPanicIsAProblem(t *testing.T) {
	res := render(t, panicFS{tree(map[string]string{"m/a.yaml": deploy})}, Options{Path: "m"})
	wantProblem(t, res, RuleInternal, "m: rendering failed: boom")
}
