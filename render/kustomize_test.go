package render

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

var kustomizeBase = map[string]string{
	"base/kustomization.yaml": "resources:\n- deploy.yaml\n- svc.yaml\n",
	"base/deploy.yaml":        deploy,
	"base/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports: [{port: 80}]\n",
}

func withFiles(extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range kustomizeBase {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func TestKustomizeOverlay(t *testing.T) {
	fsys := tree(withFiles(map[string]string{
		"overlays/prod/kustomization.yaml": "resources:\n- ../../base\n- extra.yaml\nnamePrefix: prod-\nconfigMapGenerator:\n- name: settings\n  literals: [mode=prod]\n",
		"overlays/prod/extra.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ex\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
	}))
	res := render(t, fsys, Options{Path: "overlays/prod", DefaultNamespace: "shop"})
	wantOK(t, res)
	if res.Type != TypeKustomize {
		t.Errorf("type %s", res.Type)
	}
	got := names(res)
	want := []string{
		"Deployment.apps/shop/prod-web@base/deploy.yaml:1",
		"Service/shop/prod-web@base/svc.yaml:1",
		"ConfigMap/shop/prod-extra@overlays/prod/extra.yaml:6",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %s in %v", w, got)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool {
		return strings.HasPrefix(s, "ConfigMap/shop/prod-settings-") && strings.HasSuffix(s, "@overlays/prod/kustomization.yaml:6")
	}) {
		t.Errorf("generated ConfigMap missing: %v", got)
	}
	for _, o := range res.Objects {
		if _, ok := o.GetAnnotations()[originKey]; ok {
			t.Errorf("%s keeps the origin annotation", ObjectName(o.Unstructured))
		}
	}
}

func TestKustomizeOutsideRepo(t *testing.T) {
	fsys := tree(withFiles(map[string]string{
		"overlays/prod/kustomization.yaml": "resources:\n- ../../base\n- ../../../../etc\n",
	}))
	res := render(t, fsys, Options{Path: "overlays/prod", DefaultNamespace: "shop"})
	wantProblem(t, res, RuleOutsideRepo, `overlays/prod/kustomization.yaml:3: resources: "../../../../etc" points outside the repository`)
	if len(res.Objects) != 0 {
		t.Errorf("objects: %v", names(res))
	}
}

// TestKustomizeRemote serves a manifest over HTTP and refers to it, and to a git base: both
// are refused before krusty runs, and the server is never asked.
func TestKustomizeRemote(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(deploy))
	}))
	defer srv.Close()
	fsys := tree(withFiles(map[string]string{
		"app/kustomization.yaml": "resources:\n- ../base\n- " + srv.URL + "/deploy.yaml\n- github.com/example/repo//deploy?ref=v1\npatches:\n- path: " + srv.URL + "/patch.yaml\n",
	}))
	res := render(t, fsys, Options{Path: "app", DefaultNamespace: "shop"})
	var got []string
	for _, p := range res.Problems {
		if p.Rule == RuleKustomizeRemote {
			got = append(got, p.String())
		}
	}
	want := []string{
		`app/kustomization.yaml:3: resources: "` + srv.URL + `/deploy.yaml" is remote; gitopsd only builds what is in the repository [kustomize-remote]`,
		`app/kustomization.yaml:4: resources: "github.com/example/repo//deploy?ref=v1" is remote; gitopsd only builds what is in the repository [kustomize-remote]`,
		`app/kustomization.yaml:6: patches: "` + srv.URL + `/patch.yaml" is remote; gitopsd only builds what is in the repository [kustomize-remote]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if hits.Load() != 0 {
		t.Errorf("the HTTP server was asked %d times", hits.Load())
	}
}

func TestKustomizeHelmChartsRefused(t *testing.T) {
	fsys := tree(map[string]string{
		"k/kustomization.yaml": "helmCharts:\n- name: nginx\n  repo: https://charts.example.com\n",
	})
	res := render(t, fsys, Options{Path: "k", DefaultNamespace: "shop"})
	wantProblem(t, res, RuleKustomizeRemote, "k/kustomization.yaml:1: helmCharts is not supported")
}

// TestKustomizeExecPlugin asks for an exec function that would create a file on the host:
// krusty refuses plugins with its default options, so nothing runs.
func TestKustomizeExecPlugin(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	script := filepath.Join(t.TempDir(), "plugin.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\ncat\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fsys := tree(withFiles(map[string]string{
		"k/kustomization.yaml": "resources:\n- ../base\ntransformers:\n- plugin.yaml\n",
		"k/plugin.yaml": "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n" +
			"    config.kubernetes.io/function: |\n      exec:\n        path: " + script + "\n",
	}))
	res := render(t, fsys, Options{Path: "k", DefaultNamespace: "shop"})
	p := wantProblem(t, res, RuleKustomize, "k/kustomization.yaml: plugin Evil is not built into kustomize")
	t.Log(p.String())
	if _, err := os.Stat(marker); err == nil {
		t.Error("the exec plugin ran")
	}
}

func TestKustomizeErrors(t *testing.T) {
	fsys := tree(withFiles(map[string]string{
		"k/kustomization.yaml": "resources:\n- ../base\n- missing.yaml\n",
	}))
	res := render(t, fsys, Options{Path: "k", DefaultNamespace: "shop"})
	p := wantProblem(t, res, RuleKustomize, "k/kustomization.yaml:3: k/missing.yaml does not exist")
	if strings.Contains(p.Message, memRoot) || p.Hint == "" {
		t.Errorf("message shows the in-memory root, or no hint: %s (%s)", p.Message, p.Hint)
	}
	// A YAML bomb in a resource is refused by the bounded decoder, not expanded by kyaml.
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	prev := "a"
	for _, c := range "bcdefgh" {
		bomb += "  " + string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+",", 10), ",") + "]\n"
		prev = string(c)
	}
	res = render(t, tree(withFiles(map[string]string{"k/kustomization.yaml": "resources: [bomb.yaml]\n", "k/bomb.yaml": bomb})), Options{Path: "k"})
	wantProblem(t, res, RuleYAMLAliases, "k/bomb.yaml:", "YAML aliases expand to more than")
}

// TestKustomizeSymlinks: a symlink out of the tree that the build uses is a problem naming
// it; one the build does not use, and a large unrelated file, cost nothing.
func TestKustomizeSymlinks(t *testing.T) {
	files := withFiles(map[string]string{
		"k/kustomization.yaml":  "resources:\n- ../base\n- passwd.yaml\n",
		"k/passwd.yaml":         "symlink:/etc/passwd",
		"unused/hosts.yaml":     "symlink:/etc/hosts",
		"docs/big.bin":          strings.Repeat("\x00", 2000),
		"k2/kustomization.yaml": "resources:\n- svc.yaml\n",
		"k2/svc.yaml":           "symlink:../base/svc.yaml",
	})
	tr := gitTree(t, files)
	res := render(t, tr, Options{Path: "k", DefaultNamespace: "shop", MaxBytes: 1500})
	wantProblem(t, res, RuleRead, "k/passwd.yaml: cannot read: k/passwd.yaml -> /etc/passwd: symlink points outside the repository")
	if strings.Contains(dump(res), "root:") {
		t.Error("/etc/passwd leaked")
	}
	res = render(t, tr, Options{Path: "k2", DefaultNamespace: "shop", MaxBytes: 1500})
	wantOK(t, res)
	if got := names(res); !slices.Equal(got, []string{"Service/shop/web@k2/svc.yaml:1"}) {
		t.Errorf("objects %v", got)
	}
}

// TestKustomizeErrorKinds: each kind of build error is reported once, at the entry of the
// kustomization that causes it (the base's, for a file missing in a base), without
// krusty's wrapping, and with a hint.
func TestKustomizeErrorKinds(t *testing.T) {
	sm := func(name string) string {
		return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\nspec:\n  replicas: 3\n"
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"missing in a base", map[string]string{"b/kustomization.yaml": "resources:\n- deploy.yaml\n- gone.yaml\n", "b/deploy.yaml": deploy, "o/kustomization.yaml": "resources:\n- ../b\n"},
			"b/kustomization.yaml:3: b/gone.yaml does not exist [kustomize]"},
		{"missing patch in a base", map[string]string{"b/kustomization.yaml": "resources:\n- deploy.yaml\npatches:\n- path: p.yaml\n", "b/deploy.yaml": deploy, "o/kustomization.yaml": "resources:\n- ../b\n"},
			"b/kustomization.yaml:4: b/p.yaml does not exist [kustomize]"},
		{"missing generator file in a base", map[string]string{"b/kustomization.yaml": "configMapGenerator:\n- name: x\n  files:\n  - conf=conf.txt\n", "o/kustomization.yaml": "resources:\n- ../b\n"},
			"b/kustomization.yaml:4: b/conf.txt does not exist [kustomize]"},
		{"missing base", map[string]string{"o/kustomization.yaml": "namePrefix: x-\nresources:\n- ../b\n"},
			"o/kustomization.yaml:3: b does not exist [kustomize]"},
		{"missing component", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\ncomponents:\n- ../c\n", "o/d.yaml": deploy},
			"o/kustomization.yaml:4: c does not exist [kustomize]"},
		{"directory without kustomization", map[string]string{"o/kustomization.yaml": "resources:\n- ../b\n", "b/x.yaml": deploy},
			"o/kustomization.yaml:2: b has no kustomization.yaml [kustomize]"},
		{"unknown field", map[string]string{"o/kustomization.yaml": "namePrefix: x-\nresource:\n- d.yaml\n", "o/d.yaml": deploy},
			`o/kustomization.yaml:2: unknown field "resource" in the kustomization [kustomize]`},
		{"patch target not found", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\npatches:\n- path: p.yaml\n", "o/d.yaml": deploy, "o/p.yaml": "# a patch\n" + sm("other")},
			"o/p.yaml:2: the patch of Deployment other matches no resource [kustomize]"},
		{"operation on a missing path", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\npatches:\n- path: p.yaml\n  target: {kind: Deployment, name: web}\n", "o/d.yaml": deploy, "o/p.yaml": "- op: add\n  path: /spec/paused\n  value: true\n- op: replace\n  path: /spec/nope/x\n  value: 1\n"},
			"o/p.yaml:5: patch: replace of /spec/nope/x: the object has no such path [kustomize]"},
		{"cycle", map[string]string{"o/kustomization.yaml": "resources:\n- ../b\n", "b/kustomization.yaml": "resources:\n- d.yaml\n- ../o\n", "b/d.yaml": deploy},
			"b/kustomization.yaml:3: o includes itself (a cycle of bases) [kustomize]"},
		{"duplicate", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\n- e.yaml\n", "o/d.yaml": deploy, "o/e.yaml": deploy},
			"o/kustomization.yaml:3: Deployment web is in the build twice [kustomize]"},
		{"bad YAML in a resource", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\n", "o/d.yaml": "apiVersion: v1\nkind: [\n"},
			"o/d.yaml:2: invalid YAML: did not find expected node content [yaml-syntax]"},
		{"no kind", map[string]string{"o/kustomization.yaml": "resources:\n- d.yaml\n", "o/d.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"},
			"o/d.yaml:1: an object has no kind [missing-field]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, tree(tc.files), Options{Path: "o", DefaultNamespace: "shop"})
			if len(res.Problems) != 1 {
				t.Fatalf("want one problem: %s", dump(res))
			}
			p := res.Problems[0]
			if p.String() != tc.want || p.Hint == "" || strings.Contains(p.Message, "kustomize:") {
				t.Errorf("got  %s (hint %q)\nwant %s", p, p.Hint, tc.want)
			}
		})
	}
	if got := nearestField("resource"); got != "resources" {
		t.Errorf(`nearestField("resource") = %q`, got)
	}
	if got := nearestField("namePrefx"); got != "namePrefix" {
		t.Errorf(`nearestField("namePrefx") = %q`, got)
	}
}
