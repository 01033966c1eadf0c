package hooks

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReportRejected(t *testing.T) {
	r := &Report{
		Repo: "platform", Env: "staging", Branch: "staging", Cluster: "staging", Commit: "0123456789abcdef0123456789abcdef01234567",
		Problems: []Problem{
			{File: "deploy/web.yaml", Line: 12, Object: "Deployment/web/web", Rule: "dry-run", Message: "spec.replicas: Invalid value: -1", Hint: "fix the field the API names"},
			{File: "deploy/a.yaml", Line: 3, Rule: "yaml", Message: "mapping values are not allowed here"},
		},
		Timings: []Timing{{"render", 100 * time.Millisecond}, {"checks", 300 * time.Millisecond}},
	}
	var b bytes.Buffer
	r.Write(&b, Style{})
	out := b.String()
	for _, want := range []string{
		"gitopsd platform/staging: staging -> cluster staging @ 0123456\n",
		"  x deploy/a.yaml:3\n    yaml: mapping values are not allowed here\n",
		"  x deploy/web.yaml:12  Deployment/web/web\n    dry-run: spec.replicas: Invalid value: -1\n    hint: fix the field the API names\n",
		"REJECTED: 2 problems in 0.40s (render 0.10s, checks 0.30s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Index(out, "a.yaml") > strings.Index(out, "web.yaml") {
		t.Errorf("problems must be sorted by file:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("no colour unless asked:\n%q", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len("remote: "+line) > 80 {
			t.Errorf("line longer than 80 columns with git's prefix: %q", line)
		}
	}
}

func TestReportPreviewAndColor(t *testing.T) {
	r := &Report{Repo: "p", Env: "e", Commit: "abc"}
	for i := 0; i < 25; i++ {
		r.Preview = append(r.Preview, PreviewLine{Op: "+", Object: "ConfigMap/ns/c"})
	}
	r.Preview = append(r.Preview,
		PreviewLine{Op: "~", Object: "Secret/ns/s", Fields: []string{"data.password: *** -> ***"}},
		PreviewLine{Op: "=", Object: "ConfigMap/ns/same"},
		PreviewLine{Op: "-", Object: "Service/ns/old"})
	var b bytes.Buffer
	r.Write(&b, Style{Color: true})
	out := b.String()
	for _, want := range []string{"preview: 25 to create, 1 to configure, 1 unchanged, 1 to prune", "... and 5 more", "data.password: *** -> ***", "Service/ns/old", "\x1b[32mok: checks passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ConfigMap/ns/same") {
		t.Errorf("unchanged objects are counted, not listed")
	}
}
