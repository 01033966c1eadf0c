package render

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/gitopsd/gitopsd/internal/testfs"
)

// manifest and plain1000 are the benchmarks' inputs (shared with package sandbox's).
var (
	manifest  = testfs.Deployment
	plain1000 = testfs.Deployments1000
)

func benchRender(b *testing.B, fsys fs.FS, opts Options, want int) {
	b.ReportAllocs()
	for b.Loop() {
		res, err := Render(context.Background(), fsys, opts)
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK() || len(res.Objects) != want {
			b.Fatalf("%d objects: %s", len(res.Objects), dump(res))
		}
	}
}

// BenchmarkPlain1000 renders 1,000 Deployments from memory.
func BenchmarkPlain1000(b *testing.B) {
	benchRender(b, tree(plain1000()), Options{Path: "deploy", DefaultNamespace: "shop"}, 1000)
}

// BenchmarkPlain1000Git renders the same objects from a real git commit through gittree,
// as the pre-receive hook does.
func BenchmarkPlain1000Git(b *testing.B) {
	fsys := gitTree(b, plain1000())
	benchRender(b, fsys, Options{Path: "deploy", DefaultNamespace: "shop"}, 1000)
}

// BenchmarkHelmChart renders the test chart (a Deployment, a subchart Service, a CRD).
func BenchmarkHelmChart(b *testing.B) {
	benchRender(b, tree(testChart(nil)), helmOpts(), 3)
}

// helmMany is a chart whose template loops over count Deployments.
func helmMany(count int) map[string]string {
	tpl := "{{- range $i := until (int .Values.count) }}\n---\n" +
		strings.ReplaceAll(strings.ReplaceAll(manifest(0), "app-0", "app-{{ $i }}"), "1.2.0", "1.2.{{ $i }}") +
		"{{- end }}\n"
	tpl = strings.ReplaceAll(tpl, `value: "0"`, `value: "{{ $i }}"`)
	return map[string]string{
		"chart/Chart.yaml":          "apiVersion: v2\nname: many\nversion: 1.0.0\n",
		"chart/values.yaml":         fmt.Sprintf("count: %d\n", count),
		"chart/templates/apps.yaml": tpl,
	}
}

// BenchmarkHelm1000 renders a chart whose template loops over 1,000 Deployments.
func BenchmarkHelm1000(b *testing.B) {
	benchRender(b, tree(helmMany(1000)), Options{Path: "chart", DefaultNamespace: "shop"}, 1000)
}

// BenchmarkHelm200 renders the same chart with 200 Deployments, from git (the baseline of
// the render sandbox's benchmark, package sandbox).
func BenchmarkHelm200Git(b *testing.B) {
	benchRender(b, gitTree(b, helmMany(200)), Options{Path: "chart", DefaultNamespace: "shop"}, 200)
}

// BenchmarkKustomize1000 builds an overlay over a base of 1,000 Deployments.
func BenchmarkKustomize1000(b *testing.B) {
	files := plain1000()
	var res []string
	for p := range files {
		res = append(res, "- "+strings.TrimPrefix(p, "deploy/"))
	}
	files["deploy/kustomization.yaml"] = "resources:\n" + strings.Join(res, "\n") + "\n"
	files["overlay/kustomization.yaml"] = "resources: [../deploy]\nnamePrefix: prod-\nlabels: [{pairs: {env: prod}}]\n"
	benchRender(b, tree(files), Options{Path: "overlay", DefaultNamespace: "shop"}, 1000)
}
