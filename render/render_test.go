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

func TestDetect(t *testing.T) {
	for file, want := range map[string]string{
		"kustomization.yaml": TypeKustomize,
		"kustomization.yml":  TypeKustomize,
		"Kustomization":      TypeKustomize,
		"Chart.yaml":         TypeHelm,
		"app.yaml":           TypePlain,
	} {
		fsys := tree(map[string]string{"p/" + file: "x: 1\n"})
		if got := detect(fsys, "p", true); got != want {
			t.Errorf("%s: detected %s, want %s", file, got, want)
		}
	}
}
