package render

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// tree builds an in-memory tree from path -> content.
func tree(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for p, c := range files {
		m[p] = &fstest.MapFile{Data: []byte(c), Mode: 0o644}
	}
	return m
}

// render runs Render and fails the test on an error.
func render(t testing.TB, fsys fs.FS, opts Options) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := Render(ctx, fsys, opts)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return res
}

// wantProblem asserts that exactly one problem has the rule, and that its text
// (Problem.String) contains every fragment.
func wantProblem(t testing.TB, res *Result, rule string, fragments ...string) Problem {
	t.Helper()
	var found []Problem
	for _, p := range res.Problems {
		if p.Rule == rule {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s problem, got %d in %s", rule, len(found), dump(res))
	}
	s := found[0].String()
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			t.Errorf("problem %q does not contain %q", s, f)
		}
	}
	return found[0]
}

func wantOK(t testing.TB, res *Result) {
	t.Helper()
	if !res.OK() {
		t.Fatalf("unexpected problems: %s", dump(res))
	}
}

func dump(res *Result) string {
	var b strings.Builder
	for _, p := range res.Problems {
		b.WriteString("\n  " + p.String())
		if p.Hint != "" {
			b.WriteString(" (hint: " + p.Hint + ")")
		}
	}
	for _, o := range res.Objects {
		b.WriteString("\n  object " + ObjectName(o.Unstructured) + " at " + o.Source.String())
	}
	return b.String()
}

func names(res *Result) []string {
	var out []string
	for _, o := range res.Objects {
		out = append(out, ObjectName(o.Unstructured)+"@"+o.Source.String())
	}
	return out
}

// scopeOf is a ScopeFunc standing in for a cluster's RESTMapper.
func scopeOf(namespaced map[string]bool) ScopeFunc {
	return func(gvk schema.GroupVersionKind) (bool, bool) {
		ns, ok := namespaced[gvk.Kind]
		return ns, ok
	}
}
