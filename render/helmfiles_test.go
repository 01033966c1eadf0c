package render

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

func TestHelmFilesOutsideChartRefused(t *testing.T) {
	fsys := fstest.MapFS{
		"chart/Chart.yaml":   {Data: []byte("apiVersion: v2\nname: web\nversion: 0.1.0\n")},
		"chart/values.yaml":  {Data: []byte("{}\n")},
		"chart/files/ok.txt": {Data: []byte("fine\n")},
		"chart/templates/cm.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n" +
			"  ok: {{ .Files.Get \"files/ok.txt\" | quote }}\n" +
			"  abs: {{ .Files.Get \"/etc/passwd\" | quote }}\n" +
			"  up: {{ .Files.Get `../../etc/passwd` | quote }}\n")},
	}
	res, err := Render(context.Background(), fsys, Options{Type: TypeHelm, Path: "chart", DefaultNamespace: "web"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Problems {
		got = append(got, p.String())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{
		`chart/templates/cm.yaml:7: .Files.Get "/etc/passwd" names a file outside the chart [outside-repo]`,
		`chart/templates/cm.yaml:8: .Files.Get "../../etc/passwd" names a file outside the chart [outside-repo]`,
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %q in:\n%s", want, joined)
		}
	}
	if len(res.Problems) != 2 {
		t.Errorf("only the two outside references are problems, got:\n%s", joined)
	}
}
